"""A fake OpenAI Responses upstream (`POST /v1/responses`), speaking the wire format of OpenAI's
API reference and the `openai` SDK's types (openai/types/responses/*.py): the `Response` object,
and for `stream: true` the typed events with increasing `sequence_number`, each as
`event: <type>` + `data: <json>`.

It answers with a `function_call` to the first function tool when tools are offered and the
input's last item is not a `function_call_output`; otherwise with a text message that echoes the
last user text or tool output. `include: ["reasoning.encrypted_content"]` adds a reasoning item
carrying `encrypted_content`; a `web_search` tool adds a `web_search_call` item (built-in tools
only work natively). Every request is recorded."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from fake_providers import Recorded


def _last_text(items) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("type") == "function_call_output":
            out = item.get("output")
            return out if isinstance(out, str) else json.dumps(out)
        content = item.get("content")
        if item.get("role") == "user":
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


class FakeResponsesProvider:
    def __init__(self, api_key: str = "resp-key-0123456789"):
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        #: Status to answer the next requests with (popped one per request), e.g. [429].
        self.fail_with: list[int] = []
        #: Streams end with a `response.completed` event whose `response` is not an object.
        self.break_final = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="fake-responses", daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def record(self, r: Recorded):
        with self._lock:
            self.requests.append(r)

    def answer(self, body: dict) -> dict:
        """The finished `Response` for a request."""
        rid = "resp_up" + uuid.uuid4().hex
        inp = body.get("input")
        items = [{"type": "message", "role": "user", "content": inp}] if isinstance(inp, str) else (inp or [])
        tools = body.get("tools") or []
        output = []
        if "reasoning.encrypted_content" in (body.get("include") or []):
            output.append({"id": "rs_" + uuid.uuid4().hex, "type": "reasoning", "summary": [],
                           "encrypted_content": "gAAAAencrypted-" + uuid.uuid4().hex})
        if any(t.get("type") == "web_search" for t in tools):
            output.append({"id": "ws_" + uuid.uuid4().hex, "type": "web_search_call", "status": "completed",
                           "action": {"type": "search", "query": _last_text(items)}})
        functions = [t for t in tools if t.get("type") == "function"]
        last = items[-1] if items else {}
        if functions and last.get("type") != "function_call_output" and body.get("tool_choice") != "none":
            f = functions[0]
            args = {name: _last_text(items) for name in ((f.get("parameters") or {}).get("properties") or {})}
            output.append({"id": "fc_" + uuid.uuid4().hex, "type": "function_call", "status": "completed",
                           "call_id": "call_" + uuid.uuid4().hex[:24], "name": f["name"],
                           "arguments": json.dumps(args)})
        else:
            text = f"responses fake {body.get('model')} says: {_last_text(items)}"
            output.append({"id": "msg_" + uuid.uuid4().hex, "type": "message", "status": "completed", "role": "assistant",
                           "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
        words = sum(len(json.dumps(o).split()) for o in output)
        now = int(time.time())
        return {"id": rid, "object": "response", "created_at": now, "status": "completed", "background": False,
                "completed_at": now, "error": None, "incomplete_details": None,
                "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
                "model": body.get("model"), "output": output, "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "previous_response_id": body.get("previous_response_id"),
                "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
                "service_tier": "default", "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
                "text": body.get("text") or {"format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
                "tools": [dict(t, strict=t.get("strict", True)) if t.get("type") == "function" else t for t in tools],
                "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"),
                "usage": {"input_tokens": 11, "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0}, "output_tokens": words,
                          "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 11 + words},
                "metadata": body.get("metadata") or {}, **({"user": body["user"]} if body.get("user") else {})}

    @staticmethod
    def events(final: dict) -> list[dict]:
        """The stream OpenAI sends for `final`: lifecycle events around each item's events."""
        seq = [0]

        def ev(type_, **fields):
            e = {"type": type_, **fields, "sequence_number": seq[0]}
            seq[0] += 1
            return e

        shell = {k: v for k, v in dict(final, status="in_progress", output=[], completed_at=None).items() if k != "usage"}
        out = [ev("response.created", response=shell), ev("response.in_progress", response=shell)]
        for i, item in enumerate(final["output"]):
            if item["type"] == "message":
                out.append(ev("response.output_item.added", output_index=i, item=dict(item, status="in_progress", content=[])))
                text = item["content"][0]["text"]
                out.append(ev("response.content_part.added", item_id=item["id"], output_index=i, content_index=0,
                              part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
                for piece in [text[:len(text) // 2], text[len(text) // 2:]]:
                    out.append(ev("response.output_text.delta", item_id=item["id"], output_index=i, content_index=0,
                                  delta=piece, logprobs=[]))
                out.append(ev("response.output_text.done", item_id=item["id"], output_index=i, content_index=0, text=text,
                              logprobs=[]))
                out.append(ev("response.content_part.done", item_id=item["id"], output_index=i, content_index=0,
                              part=item["content"][0]))
            elif item["type"] == "function_call":
                out.append(ev("response.output_item.added", output_index=i,
                              item=dict(item, status="in_progress", arguments="")))
                args = item["arguments"]
                out.append(ev("response.function_call_arguments.delta", item_id=item["id"], output_index=i, delta=args))
                out.append(ev("response.function_call_arguments.done", item_id=item["id"], output_index=i,
                              name=item["name"], arguments=args))
            else:
                out.append(ev("response.output_item.added", output_index=i, item=item))
            out.append(ev("response.output_item.done", output_index=i, item=item))
        out.append(ev("response.completed", response=final))
        return out


def _make_handler(fake: FakeResponsesProvider):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            fake.record(Recorded("POST", self.path, headers, body, time.time()))
            if self.path != "/v1/responses":
                return self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error",
                                                  "param": None, "code": None}})
            if headers.get("authorization") != f"Bearer {fake.api_key}":
                return self._json(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                                  "param": None, "code": "invalid_api_key"}})
            if fake.fail_with:
                status = fake.fail_with.pop(0)
                return self._json(status, {"error": {"message": f"fake failure {status}", "type": "server_error",
                                                     "param": None, "code": None}})
            final = fake.answer(body)
            if not body.get("stream"):
                return self._json(200, final)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = fake.events(final)
            if fake.break_final:
                events[-1]["response"] = "not an object"
            for e in events:
                data = f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def _json(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
