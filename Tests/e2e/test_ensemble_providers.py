"""An ensemble over the real adapters, not the mock: members on an OpenAI fake and an Anthropic
fake (fake_providers.py, checked against the official SDKs in test_fakes_match_sdks.py), the
Anthropic one also synthesizing, driven by the official `openai` SDK. Each fake must receive its
member call in its own wire format, and the synthesizer call must carry both members' answers."""

import openai
import pytest

from fake_providers import answer_text

KEY_ENV_OPENAI, KEY_ENV_ANTHROPIC = "E2E_ENSEMBLE_OPENAI_KEY", "E2E_ENSEMBLE_ANTHROPIC_KEY"
PROMPT = "Explain single-flight caching in one sentence."
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}]


@pytest.fixture
def council(make_fake, make_gateway):
    oa, an = make_fake("openai"), make_fake("anthropic", api_key="anthropic-key-9876543210")
    retry = {"max_attempts": 1}
    config = {
        "providers": {
            "oa": {"type": "openai", "base_url": oa.base_url, "api_key": "${%s}" % KEY_ENV_OPENAI, "retry": retry},
            "an": {"type": "anthropic", "base_url": an.base_url, "api_key": "${%s}" % KEY_ENV_ANTHROPIC, "retry": retry},
        },
        "models": {
            "m-oa": {"provider": "oa", "model": "oa-model"},
            "m-an": {"provider": "an", "model": "an-model"},
            "council": {"ensemble": ["m-oa", "m-an"], "synthesizer": "m-an"},
        },
        "stream_keepalive_interval": 0.05,
    }
    gateway = make_gateway(config=config, env={KEY_ENV_OPENAI: oa.api_key, KEY_ENV_ANTHROPIC: an.api_key})
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)
    return client, oa, an


MEMBER_ANSWERS = {"m-oa": answer_text("openai", "oa-model", PROMPT), "m-an": answer_text("anthropic", "an-model", PROMPT)}


def check_upstream_calls(oa, an, stream):
    """The OpenAI fake got one member call, the Anthropic fake a member call and the synthesis,
    each in its provider's shape; the synthesis carries both answers after the conversation.
    Returns the text the Anthropic fake answered the synthesis from."""
    (oa_call,) = oa.chat_requests()
    assert oa_call.path == "/v1/chat/completions"
    assert oa_call.headers["authorization"] == f"Bearer {oa.api_key}"
    assert oa_call.body["model"] == "oa-model" and oa_call.body["messages"] == MESSAGES

    member, synthesis = an.chat_requests()
    for call in (member, synthesis):
        assert call.path == "/v1/messages"
        assert call.headers["x-api-key"] == an.api_key and call.headers["anthropic-version"]
        assert "authorization" not in call.headers
        assert call.body["model"] == "an-model" and call.body["max_tokens"] > 0
        assert call.body["system"] == "Be brief."
    assert member.body["messages"] == [{"role": "user", "content": PROMPT}]
    assert not member.body.get("stream")
    assert synthesis.body.get("stream", False) is stream
    # The original turn, then the pattern's prompt with every answer (Anthropic merges the two
    # consecutive user turns into one message of text blocks).
    turns = synthesis.body["messages"]
    assert len(turns) == 1 and turns[0]["role"] == "user"
    texts = [block["text"] for block in turns[0]["content"]] if isinstance(turns[0]["content"], list) else [turns[0]["content"]]
    assert texts[0] == PROMPT
    for answer in MEMBER_ANSWERS.values():
        assert answer in texts[-1]
    return an.prompt_of(synthesis.body)


def test_ensemble_over_an_openai_and_an_anthropic_fake(council):
    client, oa, an = council
    completion = client.chat.completions.create(model="council", messages=MESSAGES)
    prompt = check_upstream_calls(oa, an, stream=False)
    # The Anthropic fake's answer to the synthesis prompt, translated back to OpenAI's shape.
    assert completion.choices[0].message.content == answer_text("anthropic", "an-model", prompt)
    assert completion.model == "council" and completion.choices[0].finish_reason == "stop"
    ultra = completion.model_extra["ultra"]
    assert ultra["is_synthesized"] is True and ultra["synthesizer"] == "m-an"
    assert [(m["model"], m["provider"], m["status"], m["content"]) for m in ultra["members"]] == [
        ("m-oa", "oa", "ok", MEMBER_ANSWERS["m-oa"]), ("m-an", "an", "ok", MEMBER_ANSWERS["m-an"])]
    assert completion.usage.total_tokens > sum(m["usage"]["total_tokens"] for m in ultra["members"])


def test_streamed_ensemble_over_an_openai_and_an_anthropic_fake(council):
    client, oa, an = council
    chunks = list(client.chat.completions.create(model="council", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    prompt = check_upstream_calls(oa, an, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer_text("anthropic", "an-model", prompt)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(c.model == "council" for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
