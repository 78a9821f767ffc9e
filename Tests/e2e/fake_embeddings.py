"""Embeddings endpoints of the fake providers (fake_providers.py), in the providers' real wire formats:

- OpenAI "Create embeddings" (platform.openai.com/docs/api-reference/embeddings/create; OpenAPI
  `CreateEmbeddingRequest` / `CreateEmbeddingResponse`): POST /v1/embeddings (Azure:
  /openai/deployments/{deployment}/embeddings?api-version=…) with `model`, `input` (a string, an array
  of strings, of token ids, or of token-id arrays), `encoding_format` (`float`, or `base64`: the
  little-endian float32 bytes), `dimensions`, `user`; answers `{"object": "list", "data": [{"object":
  "embedding", "index", "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}`.
- Gemini (ai.google.dev/api/embeddings#method:-models.batchembedcontents): POST
  /v1beta/models/{model}:batchEmbedContents with `{"requests": [{"model": "models/…", "content":
  {"parts": [{"text"}]}, "outputDimensionality"}]}`; answers `{"embeddings": [{"values": [...]}]}`.

Vectors come from `vector(model, item, dimensions)`, float32 values drawn from SHA-256 of the model
and the item, so a test computes what the gateway must hand back. An item containing `INVALID` is
refused (400, as a provider refuses an input over its token limit). Every call is counted:
`fake.embedding_calls` holds each call's item count.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct

DEFAULT_DIMENSIONS = 16


def vector(model: str, item, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The fake's vector for `item` (a string or a list of token ids): float32 values in [-1, 1)."""
    seed = (model + "\0" + json.dumps(item, separators=(",", ":"))).encode()
    out, counter = [], 0
    while len(out) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        for i in range(0, 32, 4):
            value = int.from_bytes(block[i:i + 4], "little") / 2 ** 31 - 1
            out.append(struct.unpack("<f", struct.pack("<f", value))[0])
        counter += 1
    return out[:dimensions]


def tokens_of(item) -> int:
    """What the fake charges for an item: its words, or its token ids."""
    return len(item) if isinstance(item, list) else max(1, len(item.split()))


def float32(values) -> list[float]:
    """Values as float32 (what a float JSON number stands for once stored as a float32 vector)."""
    return [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]


def decode_base64(text: str) -> list[float]:
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _items(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    return list(value or [])


def answer(fake, handler, body: dict) -> bool:
    """Answers an embeddings call when the path is one; False when it is not (the chat handler goes on)."""
    path = handler.path.partition("?")[0]
    if fake.kind in ("openai", "azure"):
        if not (path == "/v1/embeddings" or (fake.kind == "azure" and path.endswith("/embeddings")
                                              and path.startswith("/openai/deployments/"))):
            return False
        model = path.split("/")[3] if fake.kind == "azure" else body.get("model", "")
        items = _items(body.get("input"))
        requests = None
    elif fake.kind == "gemini":
        if not path.endswith(":batchEmbedContents"):
            return False
        model = path.split("/models/", 1)[1].split(":", 1)[0]
        requests = body.get("requests") or []
        items = [" ".join(p.get("text", "") for p in (r.get("content") or {}).get("parts", [])) for r in requests]
    else:
        return False
    with fake._lock:
        fake.embedding_calls.append(len(items))
    reason = fake.check_auth({k.lower(): v for k, v in handler.headers.items()})
    if reason:
        handler._send_json(401, fake.error_body(401, reason))
        return True
    b = fake.next_behaviour()
    if b.status >= 400:
        handler._send_json(b.status, fake.error_body(b.status, b.error_message or f"scripted {b.status}"), b.headers)
        return True
    bad = [i for i, item in enumerate(items) if isinstance(item, str) and "INVALID" in item]
    if bad:
        error = fake.error_body(400, f"input[{bad[0]}] is invalid: it exceeds the model's maximum input length")
        if "param" in error.get("error", {}):
            error["error"]["param"] = "input"
        handler._send_json(400, error)
        return True
    if requests is not None:
        dims = [r.get("outputDimensionality") or DEFAULT_DIMENSIONS for r in requests]
        handler._send_json(200, {"embeddings": [{"values": vector(model, item, d)} for item, d in zip(items, dims)]})
        return True
    dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(items):
        values = vector(model, item, dimensions)
        embedding = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode() if as_base64 else values
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    used = sum(tokens_of(item) for item in items)
    handler._send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": used, "total_tokens": used}})
    return True
