"""Fake LLM providers that speak each provider's real wire format, for end-to-end tests of the
gateway's adapters, retries, fallbacks and stream handling.

Each fake is a threaded HTTP/1.1 server on 127.0.0.1 (ephemeral port). It records every request
it receives (path, headers, parsed JSON body) and answers according to a script: a queue of
`Behaviour`s consumed one per request (then `default`), so a test can say "first a 429 with
Retry-After, then succeed", "reset the connection", "cut the stream after 3 events", "answer slowly".

Answers are derived from the request (`answer_text`) so tests can tell answers apart.

Wire formats, from the providers' published API references:
- OpenAI "Create chat completion" (platform.openai.com/docs/api-reference/chat/create): POST
  /v1/chat/completions with `Authorization: Bearer <key>`; a `chat.completion` object; with
  `stream: true`, SSE `data: <chat.completion.chunk>` lines ended by `data: [DONE]`; with
  `stream_options.include_usage` "an additional chunk will be streamed before the data: [DONE]
  message ... the choices field will always be an empty array" (OpenAPI `ChatCompletionStreamOptions`).
  Errors: `{"error": {"message", "type", "param", "code"}}`.
- Anthropic Messages (docs.anthropic.com/en/api/messages, .../messages-streaming,
  platform.claude.com/docs/en/build-with-claude/streaming): POST /v1/messages, headers `x-api-key`
  and `anthropic-version` required; `max_tokens` required; a `Message` object
  (`type: "message"`, `content: [{type: "text", text}]`, `stop_reason`, `usage.{input,output}_tokens`);
  stream events message_start / content_block_start / ping / content_block_delta (text_delta) /
  content_block_stop / message_delta (stop_reason, cumulative usage) / message_stop, each sent as
  `event: <type>` + `data: <json>`. Errors: `{"type": "error", "error": {"type", "message"}}`.
- Gemini (ai.google.dev/api/generate-content): POST /v1beta/models/{model}:generateContent and
  :streamGenerateContent?alt=sse with the key in `x-goog-api-key`; `GenerateContentResponse`
  (`candidates[].content.parts[].text`, `finishReason`, `usageMetadata.{promptTokenCount,
  candidatesTokenCount,totalTokenCount}`, `modelVersion`); the SSE stream sends one whole
  GenerateContentResponse per `data:` line and has no end marker. Errors: `{"error": {"code",
  "message", "status"}}`.
- Azure OpenAI (learn.microsoft.com, "Azure OpenAI REST API reference", data plane inference): POST
  {endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version={version} with the key
  in an `api-key` header; request and answers in OpenAI's shapes. A wrong path is a 404, a missing
  or other api-version a 400 (this fake knows one version, `api_version`).

Tool calls (function calling), each in the provider's documented shape. When a request offers
tools and its last turn is not a tool result, the fake calls the first tool, with arguments made
from its parameter schema (each string property gets the prompt); when the last turn is a tool
result, it answers `<kind> <model> read tool result: <result>`.
- OpenAI: `tools[].function.{name,parameters}`; the answer's `message.tool_calls[]`
  (`{id, type: "function", function: {name, arguments: <JSON text>}}`, `finish_reason:
  "tool_calls"`); streamed as `delta.tool_calls[]` with `index`, the first carrying id and name,
  later ones argument fragments. The result comes back as `{"role": "tool", "tool_call_id", "content"}`.
- Anthropic (docs.anthropic.com/en/docs/build-with-claude/tool-use): `tools[].{name,input_schema}`;
  a `tool_use` content block `{type, id, name, input}` with `stop_reason: "tool_use"`; streamed as
  content_block_start (the block with `input: {}`) and `input_json_delta` deltas (`partial_json`).
  The result comes back in a user turn as a `tool_result` block `{type, tool_use_id, content}`.
- Gemini (ai.google.dev/gemini-api/docs/function-calling): `tools[].functionDeclarations[]`
  (`parameters` or `parametersJsonSchema`); a `functionCall` part `{name, args}` (no id, as the
  Gemini API answers), `finishReason: "STOP"`; the result comes back as a `functionResponse`
  part `{name, response: <object>}`.
- Model lists: OpenAI GET /v1/models (platform.openai.com/docs/api-reference/models/list)
  `{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}`; Anthropic GET
  /v1/models?limit&after_id (docs.anthropic.com/en/api/models-list) `{"data": [{"type": "model",
  "id", "display_name", "created_at"}], "has_more", "first_id", "last_id"}`; Gemini GET
  /v1beta/models?pageSize&pageToken (ai.google.dev/api/models#method:-models.list) `{"models":
  [{"name": "models/…", "supportedGenerationMethods": […]}], "nextPageToken"}`.

Tests/e2e/test_fakes_match_sdks.py checks these answers and streams against the official SDKs' types.
"""
from __future__ import annotations

import io
import json
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs

import fake_embeddings


@dataclass
class Behaviour:
    """How the fake answers one request. Defaults: a correct, immediate answer."""
    status: int = 200
    #: Extra response headers, e.g. {"Retry-After": "1"}.
    headers: dict = field(default_factory=dict)
    #: Seconds to wait before anything is written (slow first byte / fixed latency).
    delay: float = 0.0
    #: Seconds between stream events.
    event_delay: float = 0.0
    #: Stream: seconds between the events that open the stream (OpenAI's role chunk, Anthropic's
    #: message_start / content_block_start / ping; for Gemini an extra leading event with empty
    #: text) and the first event with content, as a model that is slow to start answers.
    first_token_delay: float = 0.0
    #: Close the TCP connection with a RST right after reading the request.
    reset: bool = False
    #: Stream: stop after this many events. `cut_mode` "close" drops the connection without ending
    #: the chunked body (a broken transfer); "clean" ends the body properly but without the final
    #: events (no [DONE] / message_stop / finishReason).
    cut_after: Optional[int] = None
    cut_mode: str = "close"
    #: Error message override (an error body in the provider's shape is always sent for status >= 400).
    error_message: Optional[str] = None
    #: Number of answer words (the stream sends one word per delta).
    words: Optional[int] = None
    #: Send this JSON body with `status` as it is (e.g. an error object inside a 200); a string is
    #: sent verbatim (JSON Python cannot write, such as a key given twice).
    raw_body: Optional[object] = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict  # lower-cased names
    body: object
    at: float

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("stream")) or "streamGenerateContent" in self.path


def answer_text(kind: str, model: str, prompt: str, words: Optional[int] = None) -> str:
    """The deterministic answer a fake gives: names the provider, the model and the prompt."""
    base = f"{kind} {model} says: {prompt}".split()
    extra = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"]
    out = list(base)
    if words is not None:
        i = 0
        while len(out) < words:
            out.append(extra[i % len(extra)])
            i += 1
        out = out[:words]
    return " ".join(out)


class FakeProvider:
    """One fake provider server. `kind` is "openai", "azure", "anthropic" or "gemini"."""

    def __init__(self, kind: str, api_key: str = "test-key-0123456789", api_version: str = "2024-10-21",
                 tls: Optional[ssl.SSLContext] = None):
        """With `tls` (a server-side context holding the certificate), the fake speaks HTTPS; each
        connection's handshake runs on its handler thread, so a client that rejects the
        certificate costs the accept loop nothing."""
        assert kind in ("openai", "azure", "anthropic", "gemini")
        self.kind = kind
        self.api_key = api_key
        #: The one Azure `api-version` this fake accepts.
        self.api_version = api_version
        self.default = Behaviour()
        self._script: list[Behaviour] = []
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        #: (time the stream started, time the fake noticed the client closed) per aborted stream.
        self.disconnects: list[tuple[float, float]] = []
        #: Count of streams written to the end.
        self.completed_streams = 0
        self.connections = 0
        #: What the models endpoint lists (None: it answers 404, as a server without one).
        self.models: Optional[list[str]] = [f"{kind}-upstream"]
        #: Entries per page of the Anthropic and Gemini model lists (the client's page size caps it).
        self.models_page_size = 1000
        #: Status the models endpoint answers with (an error body when >= 400).
        self.models_status = 200
        #: Every GET of the models endpoint (kept apart from `requests`, the chat calls).
        self.model_list_requests: list[Recorded] = []
        #: HTTPS only: handshakes that failed (the client rejected the certificate).
        self.tls_failures = 0
        #: Items per embeddings call, in arrival order (fake_embeddings.py answers those calls).
        self.embedding_calls: list[int] = []
        handler = _make_handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.tls = tls
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{kind}", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        """What goes in the gateway config's `base_url` (OpenAI's includes /v1, as api.openai.com/v1;
        Azure's is the resource endpoint)."""
        root = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        return root + "/v1" if self.kind == "openai" else root

    def script(self, *behaviours: Behaviour):
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.pop(0) if self._script else self.default

    def record(self, r: Recorded):
        with self._lock:
            self.requests.append(r)

    def record_model_list(self, r: Recorded):
        with self._lock:
            self.model_list_requests.append(r)

    @property
    def embedding_items(self) -> int:
        """Items received by the embeddings endpoint, all calls together."""
        with self._lock:
            return sum(self.embedding_calls)

    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def reset_log(self):
        with self._lock:
            self.requests.clear()
            self.disconnects.clear()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- Per-provider shapes ------------------------------------------------------------------

    def check_auth(self, headers: dict) -> Optional[str]:
        """None when authorised, else the reason."""
        if self.kind == "openai":
            if headers.get("authorization") != f"Bearer {self.api_key}":
                return "missing or wrong Authorization bearer"
        elif self.kind == "azure":
            if headers.get("api-key") != self.api_key:
                return "missing or wrong api-key"
        elif self.kind == "anthropic":
            # The gateway sends `x-api-key`; the `anthropic` SDK 2.x sends the key as a bearer token.
            if headers.get("x-api-key") != self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
                return "missing or wrong x-api-key"
            if not headers.get("anthropic-version"):
                return "anthropic-version header is required"
        else:
            if headers.get("x-goog-api-key") != self.api_key:
                return "missing or wrong x-goog-api-key"
        return None

    def error_body(self, status: int, message: str) -> dict:
        if self.kind in ("openai", "azure"):
            types = {401: "invalid_request_error", 429: "rate_limit_exceeded", 400: "invalid_request_error"}
            return {"error": {"message": message, "type": types.get(status, "server_error"), "param": None,
                              "code": "rate_limit_exceeded" if status == 429 else None}}
        if self.kind == "anthropic":
            types = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                     500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}
            return {"type": "error", "error": {"type": types.get(status, "api_error"), "message": message}}
        statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
        return {"error": {"code": status, "message": message, "status": statuses.get(status, "UNKNOWN")}}

    def prompt_of(self, body: dict) -> str:
        """The last user text of the request, in this provider's request shape."""
        if self.kind in ("openai", "azure", "anthropic"):
            for m in reversed(body.get("messages", [])):
                if m.get("role") == "user":
                    c = m.get("content")
                    if isinstance(c, str):
                        return c
                    return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
            return ""
        for c in reversed(body.get("contents", [])):
            if c.get("role", "user") == "user":
                return " ".join(p.get("text", "") for p in c.get("parts", []))
        return ""

    def model_list_page(self, query: dict) -> dict:
        """One page of the models endpoint's answer, in this provider's shape."""
        models = self.models or []
        created = 1700000000
        if self.kind == "openai":
            return {"object": "list",
                    "data": [{"id": m, "object": "model", "created": created, "owned_by": "fake"} for m in models]}
        if self.kind == "anthropic":
            size = min(int(query.get("limit", ["20"])[0]), self.models_page_size)
            after = query.get("after_id", [None])[0]
            start = models.index(after) + 1 if after in models else 0
            page = models[start:start + size]
            return {"data": [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                             for m in page],
                    "has_more": start + size < len(models), "first_id": page[0] if page else None,
                    "last_id": page[-1] if page else None}
        size = min(int(query.get("pageSize", ["50"])[0]), self.models_page_size)
        start = int(query.get("pageToken", ["0"])[0])
        page = models[start:start + size]
        out = {"models": [{"name": f"models/{m}", "displayName": m,
                           "supportedGenerationMethods": ["embedContent"] if "embedding" in m
                           else ["generateContent", "countTokens"]} for m in page]}
        if start + size < len(models):
            out["nextPageToken"] = str(start + size)
        return out

    def model_of(self, path: str, body: dict) -> str:
        if self.kind == "gemini":
            return path.split("/models/", 1)[1].split(":", 1)[0]
        if self.kind == "azure":
            return path.split("/deployments/", 1)[1].split("/", 1)[0]  # the deployment answers
        return body.get("model", "")

    def usage_numbers(self, prompt: str, text: str) -> tuple[int, int]:
        return len(prompt.split()) + 7, len(text.split())

    def tool_to_call(self, body: dict) -> Optional[tuple[str, dict]]:
        """(name, schema) of the first offered tool when the fake should call it: tools are offered
        and the last turn is not a tool result."""
        if self.tool_result_of(body) is not None:
            return None
        tools = body.get("tools") or []
        if not tools or self.tool_calls_forbidden(body):
            return None
        if self.kind in ("openai", "azure"):
            f = tools[0].get("function", {})
            return f.get("name", ""), f.get("parameters") or {}
        if self.kind == "anthropic":
            return tools[0].get("name", ""), tools[0].get("input_schema") or {}
        decls = tools[0].get("functionDeclarations") or []
        if not decls:
            return None
        d = decls[0]
        # The API takes proto JSON, where snake_case names are accepted too (google-genai sends
        # `parameters_json_schema`).
        schema = d.get("parametersJsonSchema") or d.get("parameters_json_schema") or d.get("parameters")
        return d.get("name", ""), schema or {}

    def tool_calls_forbidden(self, body: dict) -> bool:
        """The request offers tools but forbids calling them (`none` in each provider's spelling)."""
        if self.kind in ("openai", "azure"):
            return body.get("tool_choice") == "none"
        if self.kind == "anthropic":
            return (body.get("tool_choice") or {}).get("type") == "none"
        return ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode") == "NONE"

    def tool_result_of(self, body: dict) -> Optional[str]:
        """The tool result text when the conversation's last turn carries one, in this provider's shape."""
        if self.kind in ("openai", "azure"):
            messages = body.get("messages") or []
            if messages and messages[-1].get("role") == "tool":
                c = messages[-1].get("content")
                return c if isinstance(c, str) else "".join(p.get("text", "") for p in c or [])
            return None
        if self.kind == "anthropic":
            messages = body.get("messages") or []
            if not messages or not isinstance(messages[-1].get("content"), list):
                return None
            for block in messages[-1]["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    c = block.get("content")
                    return c if isinstance(c, str) else "".join(p.get("text", "") for p in c or [])
            return None
        contents = body.get("contents") or []
        for part in (contents[-1].get("parts") or []) if contents else []:
            if "functionResponse" in part:
                return json.dumps(part["functionResponse"].get("response"), sort_keys=True, separators=(",", ":"))
        return None

    @staticmethod
    def tool_arguments(schema: dict, prompt: str) -> dict:
        """Arguments that fit a simple object schema: strings get the prompt, numbers 42, booleans true."""
        made = {"string": prompt, "integer": 42, "number": 42, "boolean": True}
        return {name: made.get(prop.get("type"), None) for name, prop in (schema.get("properties") or {}).items()}

    def reply_text(self, model: str, prompt: str, body: dict, b: Behaviour) -> str:
        result = self.tool_result_of(body)
        if result is not None:
            return f"{self.kind} {model} read tool result: {result}"
        return answer_text(self.kind, model, prompt, b.words)

    def completion(self, model: str, prompt: str, body: dict, b: Behaviour) -> dict:
        text = self.reply_text(model, prompt, body, b)
        p, c = self.usage_numbers(prompt, text)
        call = self.tool_to_call(body)
        if call is not None:
            return self.tool_call_completion(model, call[0], self.tool_arguments(call[1], prompt), p)
        if self.kind in ("openai", "azure"):
            return {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": int(time.time()),
                    "model": model, "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                                 "logprobs": None, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}
        if self.kind == "anthropic":
            return {"id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": p, "output_tokens": c}}
        return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP",
                                "index": 0}],
                "usageMetadata": {"promptTokenCount": p, "candidatesTokenCount": c, "totalTokenCount": p + c},
                "modelVersion": model, "responseId": uuid.uuid4().hex[:16]}

    def first_content_event(self, b: Behaviour) -> int:
        """The index of the first stream event that carries content (see `stream_events`)."""
        if self.kind in ("openai", "azure"):
            return 1  # after the role chunk
        if self.kind == "anthropic":
            return 3  # after message_start, content_block_start (empty text) and ping
        return 1 if b.first_token_delay else 0
    def tool_call_completion(self, model: str, name: str, args: dict, prompt_tokens: int) -> dict:
        """A whole answer that calls tool `name` with `args`, in this provider's shape."""
        arguments = json.dumps(args)
        c = len(arguments.split())
        if self.kind in ("openai", "azure"):
            call = {"id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                    "function": {"name": name, "arguments": arguments}}
            return {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": int(time.time()),
                    "model": model, "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "refusal": None,
                                                         "tool_calls": [call]},
                                 "logprobs": None, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": c,
                              "total_tokens": prompt_tokens + c}}
        if self.kind == "anthropic":
            return {"id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:22], "name": name,
                                 "input": args}],
                    "stop_reason": "tool_use", "stop_sequence": None,
                    "usage": {"input_tokens": prompt_tokens, "output_tokens": c}}
        return {"candidates": [{"content": {"parts": [{"functionCall": {"name": name, "args": args}}], "role": "model"},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": c,
                                  "totalTokenCount": prompt_tokens + c},
                "modelVersion": model, "responseId": uuid.uuid4().hex[:16]}

    def tool_call_stream_events(self, model: str, name: str, args: dict, prompt_tokens: int, body: dict) -> list[bytes]:
        """A streamed answer that calls tool `name`; the arguments' JSON text arrives in pieces."""
        arguments = json.dumps(args)
        third = max(1, len(arguments) // 3)
        pieces = [arguments[i:i + third] for i in range(0, len(arguments), third)]
        c = len(arguments.split())
        out: list[bytes] = []

        def data(obj, event=None):
            head = f"event: {event}\n" if event else ""
            out.append((head + "data: " + json.dumps(obj) + "\n\n").encode())

        if self.kind in ("openai", "azure"):
            cid, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())

            def chunk(delta, finish=None):
                return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": "fp_fake",
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

            data(chunk({"role": "assistant", "content": None, "tool_calls": [
                {"index": 0, "id": "call_" + uuid.uuid4().hex[:24], "type": "function",
                 "function": {"name": name, "arguments": ""}}]}))
            for piece in pieces:
                data(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            data(chunk({}, "tool_calls"))
            if (body.get("stream_options") or {}).get("include_usage"):
                data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                      "system_fingerprint": "fp_fake", "choices": [],
                      "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": c,
                                "total_tokens": prompt_tokens + c}})
            out.append(b"data: [DONE]\n\n")
        elif self.kind == "anthropic":
            data({"type": "message_start", "message": {
                "id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "content": [],
                "model": model, "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}, "message_start")
            data({"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:22], "name": name, "input": {}}},
                "content_block_start")
            for piece in pieces:
                data({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "input_json_delta", "partial_json": piece}}, "content_block_delta")
            data({"type": "content_block_stop", "index": 0}, "content_block_stop")
            data({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                  "usage": {"output_tokens": c}}, "message_delta")
            data({"type": "message_stop"}, "message_stop")
        else:
            data({"candidates": [{"content": {"parts": [{"functionCall": {"name": name, "args": args}}], "role": "model"},
                                  "finishReason": "STOP", "index": 0}],
                  "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": c,
                                    "totalTokenCount": prompt_tokens + c},
                  "modelVersion": model})
        return out

    def stream_events(self, model: str, prompt: str, body: dict, b: Behaviour) -> list[bytes]:
        """The whole SSE stream as a list of encoded events (the cut happens on this list)."""
        call = self.tool_to_call(body)
        if call is not None:
            return self.tool_call_stream_events(model, call[0], self.tool_arguments(call[1], prompt),
                                                self.usage_numbers(prompt, "")[0], body)
        text = self.reply_text(model, prompt, body, b)
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        p, c = self.usage_numbers(prompt, text)
        out: list[bytes] = []

        def data(obj, event=None):
            head = f"event: {event}\n" if event else ""
            out.append((head + "data: " + json.dumps(obj) + "\n\n").encode())

        if self.kind in ("openai", "azure"):
            cid, created = "chatcmpl-" + uuid.uuid4().hex[:12], int(time.time())
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

            def chunk(delta, finish=None):
                obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                       "system_fingerprint": "fp_fake",
                       "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
                if include_usage:
                    obj["usage"] = None
                return obj

            data(chunk({"role": "assistant", "content": "", "refusal": None}))
            for piece in pieces:
                data(chunk({"content": piece}))
            data(chunk({}, "stop"))
            if include_usage:
                data({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                      "system_fingerprint": "fp_fake", "choices": [],
                      "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}})
            out.append(b"data: [DONE]\n\n")
        elif self.kind == "anthropic":
            data({"type": "message_start", "message": {
                "id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "content": [],
                "model": model, "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": p, "output_tokens": 1}}}, "message_start")
            data({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                 "content_block_start")
            data({"type": "ping"}, "ping")
            for piece in pieces:
                data({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                     "content_block_delta")
            data({"type": "content_block_stop", "index": 0}, "content_block_stop")
            data({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": c}}, "message_delta")
            data({"type": "message_stop"}, "message_stop")
        else:
            if b.first_token_delay:
                # Gemini has no role event: a response with empty text opens the stream.
                data({"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}, "index": 0}],
                      "modelVersion": model})
            for i, piece in enumerate(pieces):
                cand = {"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}
                obj = {"candidates": [cand], "modelVersion": model,
                       "usageMetadata": {"promptTokenCount": p, "totalTokenCount": p}}
                if i == len(pieces) - 1:
                    cand["finishReason"] = "STOP"
                    obj["usageMetadata"] = {"promptTokenCount": p, "candidatesTokenCount": c,
                                            "totalTokenCount": p + c}
                data(obj)
        return out


def _peer_closed(sock: socket.socket, timeout: float) -> bool:
    """Waits up to `timeout` for the peer to close; True when it did (EOF or reset)."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        r, _, _ = select.select([sock], [], [], max(0.0, left))
        if r:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True
            # Unexpected bytes (a pipelined request): not a close.
            time.sleep(min(0.05, max(0.0, left)))
        if time.monotonic() >= end:
            return False


def _make_handler(fake: FakeProvider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeProvider/1.0"

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            with fake._lock:
                fake.connections += 1
            self.tls_failed = False
            if fake.tls is not None:
                try:
                    self.connection.do_handshake()
                except (ssl.SSLError, OSError):
                    # The client refused the certificate (or gave up): nothing to serve.
                    self.tls_failed = True
                    with fake._lock:
                        fake.tls_failures += 1

        def handle(self):
            if not self.tls_failed:
                super().handle()

        def do_GET(self):
            path, _, query = self.path.partition("?")
            listing = {"openai": "/v1/models", "anthropic": "/v1/models", "gemini": "/v1beta/models"}[fake.kind]
            if path != listing or fake.models is None:
                return self._send_json(404, fake.error_body(404, "not found"))
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.record_model_list(Recorded("GET", self.path, headers, None, time.time()))
            reason = fake.check_auth(headers)
            if reason:
                return self._send_json(401, fake.error_body(401, reason))
            if fake.models_status >= 400:
                return self._send_json(fake.models_status, fake.error_body(fake.models_status, "scripted"))
            self._send_json(200, fake.model_list_page(urllib.parse.parse_qs(query)))

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.record(Recorded("POST", self.path, headers, body, time.time()))
            if fake_embeddings.answer(fake, self, body if isinstance(body, dict) else {}):
                return
            b = fake.next_behaviour()

            expected = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}.get(fake.kind)
            route, _, query = self.path.partition("?")
            if fake.kind == "anthropic" and route == "/v1/messages/count_tokens":
                # docs.anthropic.com/en/api/messages-count-tokens: `{"input_tokens": N}`.
                reason = fake.check_auth(headers)
                if reason:
                    return self._send_json(401, fake.error_body(401, reason))
                if b.status >= 400:
                    return self._send_json(b.status, fake.error_body(b.status, b.error_message or f"scripted {b.status}"),
                                           b.headers)
                return self._send_json(200, {"input_tokens": fake.usage_numbers(fake.prompt_of(body or {}), "")[0]})
            if fake.kind == "gemini":
                ok_path = self.path.startswith("/v1beta/models/") and (
                    self.path.endswith(":generateContent") or self.path.endswith(":streamGenerateContent?alt=sse"))
            elif fake.kind == "azure":
                parts = route.split("/")
                ok_path = len(parts) == 6 and parts[:3] == ["", "openai", "deployments"] and parts[3] \
                    and parts[4:] == ["chat", "completions"]
            else:
                ok_path = route == expected  # a query (from the base URL) is recorded, not refused
            if not ok_path:
                return self._send_json(404, fake.error_body(404, f"no route {self.path}"))
            if fake.kind == "azure" and parse_qs(query).get("api-version") != [fake.api_version]:
                return self._send_json(400, fake.error_body(400, "Missing or unsupported api-version"))
            if b.reset:
                return self._reset()
            waited_from = time.time()
            if b.delay and _peer_closed(self.connection, b.delay):
                # The caller gave up while we were "thinking".
                with fake._lock:
                    fake.disconnects.append((waited_from, time.time()))
                self.close_connection = True
                return
            reason = fake.check_auth(headers)
            if reason:
                return self._send_json(401, fake.error_body(401, reason))
            if not isinstance(body, dict):
                return self._send_json(400, fake.error_body(400, "body is not JSON"))
            if fake.kind == "anthropic" and "max_tokens" not in body:
                return self._send_json(400, fake.error_body(400, "max_tokens: Field required"))
            if b.raw_body is not None:
                return self._send_json(b.status, b.raw_body, b.headers)
            if b.status >= 400:
                return self._send_json(b.status, fake.error_body(b.status, b.error_message or f"scripted {b.status}"),
                                       b.headers)
            model = fake.model_of(self.path, body)
            prompt = fake.prompt_of(body)
            streaming = body.get("stream") is True if fake.kind != "gemini" else "streamGenerateContent" in self.path
            if streaming:
                return self._stream(fake.stream_events(model, prompt, body, b), b)
            return self._send_json(b.status, fake.completion(model, prompt, body, b), b.headers)

        def _send_json(self, status, obj, extra=None):
            payload = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def _reset(self):
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
            # The base class flushes `wfile` after the handler returns: give it a harmless one.
            self.wfile = io.BytesIO()

        def _stream(self, events, b: Behaviour):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            for k, v in b.headers.items():
                self.send_header(k, v)
            self.end_headers()
            started = time.time()
            limit = len(events) if b.cut_after is None else min(b.cut_after, len(events))
            first_content = fake.first_content_event(b)
            try:
                for i in range(limit):
                    if i and b.event_delay and _peer_closed(self.connection, b.event_delay):
                        raise ConnectionResetError("peer closed")
                    if i == first_content and b.first_token_delay:
                        self.wfile.flush()
                        if _peer_closed(self.connection, b.first_token_delay):
                            raise ConnectionResetError("peer closed")
                    ev = events[i]
                    self.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
                if b.cut_after is not None and b.cut_mode == "close":
                    self.close_connection = True
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                self.wfile.write(b"0\r\n\r\n")
                if b.cut_after is None:
                    with fake._lock:
                        fake.completed_streams += 1
            except (BrokenPipeError, ConnectionResetError, OSError):
                with fake._lock:
                    fake.disconnects.append((started, time.time()))
                self.close_connection = True

    return Handler


class FloodProvider:
    """An OpenAI-compatible upstream that answers with oversized bodies, to test the gateway's size
    limits. The last user message picks the answer:

    - `bomb`: 200 with `Content-Encoding: gzip`, `bomb_bytes` zero bytes compressed ~1000:1;
    - `sse_bomb`: the same for an SSE stream: one `data: xxx…` line of `bomb_bytes`, never ended;
    - `plain`: a chunked 200 body of `flood_bytes`;
    - `sse_line`: an SSE stream whose first line (`data: xxx…`, `flood_bytes` long) never ends;
    - `sse_after_chunk`: one valid chunk, then such a line;
    - `error`: a chunked 500 whose body is `flood_bytes` long;
    - `big:N`: a valid `chat.completion` whose content is N characters.

    Floods are written piece by piece (never held whole) until done or the gateway hangs up."""

    def __init__(self, bomb_bytes: int = 200 << 20, flood_bytes: int = 300 << 20):
        import zlib
        self.flood_bytes = flood_bytes

        def gzipped(prefix: bytes, piece: bytes) -> bytes:
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip wrapper
            parts = [packer.compress(prefix)] + [packer.compress(piece) for _ in range(bomb_bytes >> 20)]
            return b"".join(parts) + packer.flush()

        self.bomb = gzipped(b"", bytes(1 << 20))
        self.sse_bomb = gzipped(b"data: ", b"x" * (1 << 20))
        self._lock = threading.Lock()
        #: Requests per prompt.
        self.counts: dict[str, int] = {}
        #: Bytes of flood written per prompt (what the gateway took before hanging up).
        self.written: dict[str, int] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_flood_handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="fake-flood", daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, prompt: str) -> int:
        with self._lock:
            return self.counts.get(prompt, 0)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _make_flood_handler(fake: FloodProvider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            prompt = body["messages"][-1]["content"]
            with fake._lock:
                fake.counts[prompt] = fake.counts.get(prompt, 0) + 1
            try:
                self._answer(prompt, body)
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True

        def _head(self, status, content_type, extra=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()

        def _chunk(self, data: bytes):
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        def _flood(self, prompt, status, content_type, prefix: bytes, piece: bytes):
            self._head(status, content_type, [("Transfer-Encoding", "chunked")])
            self._chunk(prefix)
            sent = 0
            while sent < fake.flood_bytes:
                self._chunk(piece)
                sent += len(piece)
                with fake._lock:
                    fake.written[prompt] = sent
            self.wfile.write(b"0\r\n\r\n")

        def _answer(self, prompt, body):
            piece = b"x" * (1 << 20)
            if prompt in ("bomb", "sse_bomb"):
                bomb, content_type = (fake.bomb, "application/json") if prompt == "bomb" else (fake.sse_bomb, "text/event-stream")
                self._head(200, content_type, [("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))])
                self.wfile.write(bomb)
            elif prompt == "plain":
                self._flood(prompt, 200, "application/json", b'{"choices":[{"message":{"content":"', piece)
            elif prompt == "sse_line":
                self._flood(prompt, 200, "text/event-stream", b"data: ", piece)
            elif prompt == "sse_after_chunk":
                chunk = {"id": "chatcmpl-flood", "object": "chat.completion.chunk", "created": 1, "model": "flood",
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None}]}
                self._flood(prompt, 200, "text/event-stream", b"data: " + json.dumps(chunk).encode() + b"\n\ndata: ", piece)
            elif prompt == "error":
                self._flood(prompt, 500, "application/json", b'{"error":{"message":"overloaded ', piece)
            elif prompt.startswith("big:"):
                text = "b" * int(prompt[4:])
                payload = json.dumps({
                    "id": "chatcmpl-big", "object": "chat.completion", "created": 1, "model": "flood",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self._head(200, "application/json", [("Content-Length", str(len(payload)))])
                self.wfile.write(payload)
            else:
                self._head(404, "application/json", [("Content-Length", "2")])
                self.wfile.write(b"{}")

    return Handler
