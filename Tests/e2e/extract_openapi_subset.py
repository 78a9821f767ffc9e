"""Extracts the schemas the end-to-end tests validate against from OpenAI's published OpenAPI spec.

Usage: python3 Tests/e2e/extract_openapi_subset.py ../shared/openapi/openai-openapi.json
Writes Tests/e2e/openai-schemas.json: the named schemas plus everything they reference.
"""
import json
import sys
from pathlib import Path

ROOTS = ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ListModelsResponse", "Model", "ErrorResponse",
         "CreateEmbeddingResponse"]


def refs(node, out):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            out.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            refs(value, out)
    elif isinstance(node, list):
        for value in node:
            refs(value, out)


def main(path):
    spec = json.loads(Path(path).read_text())
    schemas = spec["components"]["schemas"]
    keep, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found = set()
        refs(schemas[name], found)
        todo.extend(found - keep)
    subset = {
        "source": "openai/openai-openapi openapi.json at f85dbe223d40e1a31cba812ab2d755c7e98a92a3 (MIT), components.schemas subset",
        "schemas": {name: schemas[name] for name in sorted(keep)},
    }
    out = Path(__file__).with_name("openai-schemas.json")
    out.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(keep)} schemas to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/openapi/openai-openapi.json")
