"""Extracts the schemas the end-to-end tests validate against from OpenAI's published OpenAPI spec.

Usage: python3 Tests/e2e/extract_openapi_subset.py ../shared/openapi/openai-openapi.json [--responses]
Writes Tests/e2e/openai-schemas.json: the named schemas plus everything they reference; with
`--responses`, Tests/e2e/openai-responses-schemas.json for the Responses API instead.
"""
import json
import sys
from pathlib import Path

ROOTS = ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ListModelsResponse", "Model", "ErrorResponse",
         "CreateEmbeddingResponse"]
RESPONSES_ROOTS = ["Response", "ResponseStreamEvent", "ResponseItemList", "ErrorResponse"]


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


def main(path, responses=False):
    spec = json.loads(Path(path).read_text())
    roots = RESPONSES_ROOTS if responses else ROOTS
    schemas = spec["components"]["schemas"]
    keep, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found = set()
        refs(schemas[name], found)
        todo.extend(found - keep)
    source = "openai/openai-openapi openapi.json at f85dbe223d40e1a31cba812ab2d755c7e98a92a3 (MIT)"
    if responses:
        source = "openai/openai-openapi openapi.json as in ../shared/openapi/openai-openapi.json (MIT)"
    subset = {
        "source": source + ", components.schemas subset",
        "schemas": {name: schemas[name] for name in sorted(keep)},
    }
    out = Path(__file__).with_name("openai-responses-schemas.json" if responses else "openai-schemas.json")
    out.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(keep)} schemas to {out}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--responses"]
    main(args[0] if args else "../shared/openapi/openai-openapi.json", responses="--responses" in sys.argv[1:])
