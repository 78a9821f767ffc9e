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
"""
from __future__ import annotations

import io
import json
import select
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


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
    """One fake provider server. `kind` is "openai", "anthropic" or "gemini"."""

    def __init__(self, kind: str, api_key: str = "test-key-0123456789"):
        assert kind in ("openai", "anthropic", "gemini")
        self.kind = kind
        self.api_key = api_key
        self.default = Behaviour()
        self._script: list[Behaviour] = []
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        #: (time the stream started, time the fake noticed the client closed) per aborted stream.
        self.disconnects: list[tuple[float, float]] = []
        #: Count of streams written to the end.
        self.completed_streams = 0
        self.connections = 0
        handler = _make_handler(self)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"fake-{kind}", daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        """What goes in the gateway config's `base_url` (OpenAI's includes /v1, as api.openai.com/v1)."""
        root = f"http://127.0.0.1:{self.port}"
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
        elif self.kind == "anthropic":
            if headers.get("x-api-key") != self.api_key:
                return "missing or wrong x-api-key"
            if not headers.get("anthropic-version"):
                return "anthropic-version header is required"
        else:
            if headers.get("x-goog-api-key") != self.api_key:
                return "missing or wrong x-goog-api-key"
        return None

    def error_body(self, status: int, message: str) -> dict:
        if self.kind == "openai":
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
        if self.kind in ("openai", "anthropic"):
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

    def model_of(self, path: str, body: dict) -> str:
        if self.kind == "gemini":
            return path.split("/models/", 1)[1].split(":", 1)[0]
        return body.get("model", "")

    def usage_numbers(self, prompt: str, text: str) -> tuple[int, int]:
        return len(prompt.split()) + 7, len(text.split())

    def completion(self, model: str, prompt: str, b: Behaviour) -> dict:
        text = answer_text(self.kind, model, prompt, b.words)
        p, c = self.usage_numbers(prompt, text)
        if self.kind == "openai":
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

    def stream_events(self, model: str, prompt: str, body: dict, b: Behaviour) -> list[bytes]:
        """The whole SSE stream as a list of encoded events (the cut happens on this list)."""
        text = answer_text(self.kind, model, prompt, b.words)
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        p, c = self.usage_numbers(prompt, text)
        out: list[bytes] = []

        def data(obj, event=None):
            head = f"event: {event}\n" if event else ""
            out.append((head + "data: " + json.dumps(obj) + "\n\n").encode())

        if self.kind == "openai":
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

        def do_GET(self):
            self._send_json(404, fake.error_body(404, "not found"))

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.record(Recorded("POST", self.path, headers, body, time.time()))
            b = fake.next_behaviour()

            expected = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}.get(fake.kind)
            if fake.kind == "gemini":
                ok_path = self.path.startswith("/v1beta/models/") and (
                    self.path.endswith(":generateContent") or self.path.endswith(":streamGenerateContent?alt=sse"))
            else:
                ok_path = self.path == expected
            if not ok_path:
                return self._send_json(404, fake.error_body(404, f"no route {self.path}"))
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
            return self._send_json(b.status, fake.completion(model, prompt, b), b.headers)

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
            try:
                for i in range(limit):
                    if i and b.event_delay and _peer_closed(self.connection, b.event_delay):
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
