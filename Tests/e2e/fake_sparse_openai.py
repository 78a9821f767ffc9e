"""An OpenAI-compatible fake that leaves out what real self-hosted servers leave out.

`FakeProvider("openai")` answers as OpenAI does. `SparseOpenAI` answers the same, then drops the
members named in `omit`, as servers other than OpenAI do:
- `refusal`: `message.refusal` / `delta.refusal` (llama.cpp, vLLM, Ollama);
- `logprobs`: each choice's `logprobs` (llama.cpp, Ollama);
- `usage`: the answer's `usage`, and in a stream the usage chunk: `stream_options.include_usage`
  is ignored (llama.cpp before it supported the option, LM Studio, TGI);
- `system_fingerprint` (vLLM, llama.cpp);
- `finish_reason`: the key on every choice, the last chunk's included (LocalAI sends it only at the
  end, some proxies never);
- `created` (llama.cpp's older server);
- `role_chunk`: the role-only first chunk, so no chunk names the role (TGI, some proxies);
`ALL` drops every one of them.
"""
from __future__ import annotations

import json

from fake_providers import FakeProvider

ALL = frozenset({"refusal", "logprobs", "usage", "system_fingerprint", "finish_reason", "created", "role_chunk"})


class SparseOpenAI(FakeProvider):
    def __init__(self, omit=(), **kwargs):
        super().__init__("openai", **kwargs)
        unknown = set(omit) - ALL
        assert not unknown, f"unknown switches {unknown}"
        #: The members left out; may be changed between requests.
        self.omit = frozenset(omit)
        #: Every whole answer as sent (the fake writes it with `json.dumps`), and every stream's
        #: chunks as sent.
        self.sent_answers: list[dict] = []
        self.sent_streams: list[list[dict]] = []

    def _strip(self, obj: dict, streaming: bool) -> dict:
        omit = self.omit
        for key in ("system_fingerprint", "created"):
            if key in omit:
                obj.pop(key, None)
        if "usage" in omit:
            obj.pop("usage", None)
        for choice in obj.get("choices", []):
            if "logprobs" in omit:
                choice.pop("logprobs", None)
            if "finish_reason" in omit:
                choice.pop("finish_reason", None)
            part = choice.get("delta" if streaming else "message") or {}
            if "refusal" in omit:
                part.pop("refusal", None)
            if "role_chunk" in omit:
                part.pop("role", None)
        return obj

    def completion(self, model, prompt, body, b):
        answer = self._strip(super().completion(model, prompt, body, b), streaming=False)
        self.sent_answers.append(answer)
        return answer

    def stream_events(self, model, prompt, body, b):
        out, sent = [], []
        self.sent_streams.append(sent)
        for event in super().stream_events(model, prompt, body, b):
            text = event.decode()
            assert text.startswith("data: ")
            data = text[len("data: "):].strip()
            if data == "[DONE]":
                out.append(event)
                continue
            chunk = json.loads(data)
            if "usage" in self.omit and chunk.get("choices") == []:
                continue  # the usage chunk: never sent
            if "role_chunk" in self.omit and _is_role_only(chunk):
                continue
            chunk = self._strip(chunk, streaming=True)
            sent.append(chunk)
            out.append(("data: " + json.dumps(chunk) + "\n\n").encode())
        return out


def _is_role_only(chunk: dict) -> bool:
    """OpenAI's opening chunk: a delta with the role and no text."""
    deltas = [c.get("delta") or {} for c in chunk.get("choices") or []]
    return bool(deltas) and all("role" in d and set(d) <= {"role", "content", "refusal"} and not d.get("content")
                                for d in deltas)
