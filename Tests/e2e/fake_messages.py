"""A fake Anthropic upstream that answers with what the gateway does not know yet: a content block
type, a delta type and an event type Anthropic has not published, extra usage fields, extra
members on the Message and on `message_delta`. The Messages front must pass all of it on to a
client unchanged (only `model` renamed), streams event by event. Everything else is
`fake_providers.FakeProvider("anthropic")`: routes, auth, scripting, recording."""
from __future__ import annotations

import json
import uuid

from fake_providers import Behaviour, FakeProvider


class NovelAnthropic(FakeProvider):
    """Records each answer it sends (`sent`: the Message, or the stream's events as
    `(event name, data object)` pairs), so a test can compare what the client got with it."""

    def __init__(self, **kwargs):
        super().__init__("anthropic", **kwargs)
        self.sent: list = []

    def completion(self, model: str, prompt: str, body: dict, b: Behaviour) -> dict:
        message = super().completion(model, prompt, body, b)
        message["content"].insert(0, {"type": "hologram", "frames": [1, 2, 3], "caption": {"lang": "en"}})
        message["content"].append({"type": "text", "text": "cited.", "citations": [
            {"type": "char_location", "cited_text": "x", "document_index": 0, "document_title": None,
             "start_char_index": 0, "end_char_index": 1}]})
        message["usage"].update({"cache_creation_input_tokens": 5, "cache_read_input_tokens": 11,
                                 "future_tokens": 3, "service_tier": "standard"})
        message["future_member"] = {"nested": [True, None, 1.50]}
        self.sent.append(message)
        return message

    def stream_events(self, model: str, prompt: str, body: dict, b: Behaviour) -> list[bytes]:
        p, c = self.usage_numbers(prompt, prompt)
        events = [
            ("message_start", {"type": "message_start", "message": {
                "id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "content": [],
                "model": model, "stop_reason": None, "stop_sequence": None, "future_member": "kept",
                "usage": {"input_tokens": p, "output_tokens": 1, "cache_read_input_tokens": 11, "future_tokens": 0}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "hologram", "frames": []}}),
            ("ping", {"type": "ping"}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "hologram_delta", "frame": 4}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("future_event", {"type": "future_event", "payload": {"a": [1, 2]}}),
            ("content_block_start", {"type": "content_block_start", "index": 1,
                                     "content_block": {"type": "text", "text": ""}}),
        ]
        for word in prompt.split():
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 1,
                                                   "delta": {"type": "text_delta", "text": word + " "}}))
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 1}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None,
                                                                  "future_delta": 7},
                               "usage": {"output_tokens": c, "future_tokens": 9}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self.sent.append(events)
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
