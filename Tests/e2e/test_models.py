"""`GET /v1/models` lists what routes, and `GET /v1/models/{id}` finds only that: configured
aliases, each provider's own list (fetched from its models endpoint, once per few minutes) as
`provider/model` and as the bare name where the bare name routes there, and the mock's models.
The mock stays reachable by its `mock-*` names next to real providers unless `mock.enabled` is
false, and a 404 for an unknown model names a few that route."""
import concurrent.futures

import requests

from conftest import validate


def chat(gw, model, content="hi"):
    return requests.post(gw.base_url + "/v1/chat/completions", timeout=30,
                         json={"model": model, "messages": [{"role": "user", "content": content}]})


def ids_of(gw):
    body = requests.get(gw.base_url + "/v1/models", timeout=30).json()
    validate(body, "ListModelsResponse")
    return [m["id"] for m in body["data"]]


def assert_model_not_found(r):
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    validate(r.json(), "ErrorResponse")


def env_openai(fake):
    return {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url}


def test_env_provider_lists_its_own_models_bare_and_qualified(make_fake, make_gateway):
    fake = make_fake("openai")
    fake.models = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    gw = make_gateway(env=env_openai(fake))
    ids = ids_of(gw)
    assert {"gpt-4o", "openai/gpt-4o", "gpt-4o-mini", "openai/gpt-4o-mini", "openai/text-embedding-3-small"} <= set(ids)
    assert "text-embedding-3-small" not in ids  # its bare name routes nowhere
    assert "openai/gpt-4.1" not in ids  # the provider's own list replaces the well-known names
    assert len(ids) == len(set(ids))
    for model in ("gpt-4o", "openai/gpt-4o-mini"):
        assert chat(gw, model).status_code == 200
        r = requests.get(f"{gw.base_url}/v1/models/{model}", timeout=30)
        assert r.status_code == 200 and r.json()["owned_by"] == "openai"
        validate(r.json(), "Model")
    # Names the provider does not have: not found, although `openai/...` would route there.
    assert_model_not_found(requests.get(gw.base_url + "/v1/models/openai/gpt-nope", timeout=30))
    assert_model_not_found(requests.get(gw.base_url + "/v1/models/gpt-nope", timeout=30))
    # Fetched once, for every listing and lookup above and concurrent ones.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: ids_of(gw), range(16)))
    assert len(fake.model_list_requests) == 1
    assert fake.model_list_requests[0].path == "/v1/models"
    assert fake.model_list_requests[0].headers["authorization"] == f"Bearer {fake.api_key}"


def test_a_provider_whose_list_cannot_be_had_falls_back_to_configured_names(make_fake, make_gateway):
    fake = make_fake("openai")
    fake.models_status = 500
    gw = make_gateway(env=env_openai(fake))
    ids = ids_of(gw)
    assert {"openai/gpt-4o", "gpt-4o", "mock-gpt"} <= set(ids)
    # Without a list nothing can be said missing: a `provider/model` name is found.
    assert requests.get(gw.base_url + "/v1/models/openai/anything", timeout=30).status_code == 200
    assert len(fake.model_list_requests) == 1  # and the failure is not retried at once


def test_anthropic_and_gemini_lists_are_read_page_by_page(make_fake, make_gateway):
    anthropic, gemini = make_fake("anthropic"), make_fake("gemini")
    anthropic.models = ["claude-a", "claude-b", "claude-c"]
    anthropic.models_page_size = 2
    gemini.models = ["gemini-x", "gemini-y", "text-embedding-004"]
    gemini.models_page_size = 2
    config = {"providers": {"ant": {"type": "anthropic", "base_url": anthropic.base_url, "api_key": anthropic.api_key},
                            "gem": {"type": "gemini", "base_url": gemini.base_url, "api_key": gemini.api_key}},
              "models": {"fast": {"provider": "gem", "model": "gemini-x"}}}
    gw = make_gateway(config=config)
    ids = ids_of(gw)
    assert ids[0] == "fast"  # configured names first
    assert {"ant/claude-a", "ant/claude-b", "ant/claude-c", "gem/gemini-x", "gem/gemini-y"} <= set(ids)
    assert "gem/text-embedding-004" in ids  # it embeds: /v1/embeddings serves it
    assert len(anthropic.model_list_requests) == 2 and "after_id=claude-b" in anthropic.model_list_requests[1].path
    assert len(gemini.model_list_requests) == 2 and "pageToken=2" in gemini.model_list_requests[1].path
    assert anthropic.model_list_requests[0].headers["anthropic-version"]
    assert chat(gw, "ant/claude-c").status_code == 200
    assert_model_not_found(requests.get(gw.base_url + "/v1/models/ant/claude-z", timeout=30))
    assert requests.get(gw.base_url + "/v1/models/gem/gemini-y", timeout=30).json()["owned_by"] == "gem"


def test_mock_models_keep_answering_next_to_a_provider_key(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = make_gateway(env=env_openai(fake))
    r = chat(gw, "mock-gpt", "Hello!")
    assert r.status_code == 200, r.text
    assert r.headers["X-UltraGate-Model"] == "mock-gpt"
    assert fake.chat_requests() == []
    r = chat(gw, "no-such-model")
    assert_model_not_found(r)
    message = r.json()["error"]["message"]
    assert "`no-such-model` does not exist" in message and "try one of: mock-gpt, mock-claude, mock-gemini" in message
    for suggested in message.split("try one of: ")[1].rstrip(".").split(", "):
        assert chat(gw, suggested).status_code == 200, suggested


def test_mock_enabled_false_turns_the_mock_names_off(make_fake, make_gateway):
    fake = make_fake("openai")
    config = {"mock": {"enabled": False},
              "providers": {"up": {"type": "openai", "base_url": fake.base_url, "api_key": fake.api_key}},
              "models": {"main": {"provider": "up", "model": "openai-upstream"}}}
    gw = make_gateway(config=config)
    assert_model_not_found(chat(gw, "mock-gpt"))
    assert "try one of: main" in chat(gw, "mock-gpt").json()["error"]["message"]
    assert ids_of(gw) == ["main", "up/openai-upstream"]
