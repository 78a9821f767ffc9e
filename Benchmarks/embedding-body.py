"""Prints an OpenAI `CreateEmbeddingResponse` of ITEMS embeddings of DIMENSIONS float32 values, base64
encoded (what the gateway asks upstreams for): the fixed body of the benchmarks' fake upstream.
  python3 Benchmarks/embedding-body.py ITEMS DIMENSIONS [MODEL]"""
import base64
import json
import math
import struct
import sys

items, dims = int(sys.argv[1]), int(sys.argv[2])
model = sys.argv[3] if len(sys.argv) > 3 else "emb-bench"
data = []
for i in range(items):
    values = [math.sin(i * 7.1 + d * 0.37) / math.sqrt(dims / 2) for d in range(dims)]
    data.append({"object": "embedding", "index": i,
                 "embedding": base64.b64encode(struct.pack(f"<{dims}f", *values)).decode()})
print(json.dumps({"object": "list", "data": data, "model": model,
                  "usage": {"prompt_tokens": 20 * items, "total_tokens": 20 * items}}, separators=(",", ":")))
