"""`/v1/embeddings` through the real binary, driven by the official `openai` SDK, in front of fake
providers speaking OpenAI's and Gemini's embeddings wire formats (fake_embeddings.py) and the built-in
mock: decoding (base64, the SDK's default, and float), token-id input, `dimensions`, the per-item
cache (only missing items go upstream, counted at the fake), batching of concurrent requests, and the
errors of models that cannot embed."""
import concurrent.futures
import math

import openai
import pytest
import requests

from conftest import scrape, validate
from fake_embeddings import DEFAULT_DIMENSIONS, decode_base64, float32, tokens_of, vector

UPSTREAM = "text-embedding-3-small"


def config_for(fake, **top):
    cfg = {"providers": {"up": {"type": fake.kind, "base_url": fake.base_url, "api_key": fake.api_key,
                                "retry": {"max_attempts": 1}}},
           "models": {"emb": {"provider": "up", "model": UPSTREAM if fake.kind != "gemini" else "text-embedding-004",
                              "kind": "embedding"}}}
    cfg.update(top)
    return cfg


def client_for(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)


def post(gateway, body, headers=None):
    return requests.post(gateway.base_url + "/v1/embeddings", json=body, headers=headers or {}, timeout=30)


def same_float32(got, expected):
    """Vectors equal once read as the float32 values they stand for."""
    return float32(got) == float32(expected)


def test_openai_sdk_decodes_base64_and_float_to_the_fakes_vectors(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = make_gateway(config=config_for(fake))
    client = client_for(gw)

    single = client.embeddings.create(model="emb", input="hello world")  # the SDK asks for base64
    assert single.object == "list" and single.model == "emb"
    assert [d.index for d in single.data] == [0]
    assert same_float32(single.data[0].embedding, vector(UPSTREAM, "hello world"))
    assert single.usage.prompt_tokens == single.usage.total_tokens == 2

    as_float = client.embeddings.create(model="emb", input="hello world", encoding_format="float")
    # The float text is the shortest that reads back as the same float32 as base64 carries.
    assert float32(as_float.data[0].embedding) == single.data[0].embedding

    texts = ["first chunk", "second chunk here", "third"]
    batch = client.embeddings.create(model="emb", input=texts)
    assert [d.index for d in batch.data] == [0, 1, 2]
    for d, text in zip(batch.data, texts):
        assert same_float32(d.embedding, vector(UPSTREAM, text))
    assert batch.usage.prompt_tokens == sum(tokens_of(t) for t in texts)

    ids = client.embeddings.create(model="emb", input=[[1, 2, 3], [40, 50]])
    assert same_float32(ids.data[0].embedding, vector(UPSTREAM, [1, 2, 3]))
    assert same_float32(ids.data[1].embedding, vector(UPSTREAM, [40, 50]))
    one_array = client.embeddings.create(model="emb", input=[7, 8, 9])
    assert same_float32(one_array.data[0].embedding, vector(UPSTREAM, [7, 8, 9]))

    short = client.embeddings.create(model="emb", input="hello world", dimensions=8)
    assert same_float32(short.data[0].embedding, vector(UPSTREAM, "hello world", 8))

    sent = [r.body for r in fake.chat_requests() if r.path == "/v1/embeddings"]
    assert all(b["encoding_format"] == "base64" for b in sent)  # always base64 upstream, decoded by the gateway
    assert sent[-1]["dimensions"] == 8 and sent[-1]["model"] == UPSTREAM
    assert any(b["input"] == [[1, 2, 3], [40, 50]] for b in sent)
    assert all(r.headers.get("authorization") == f"Bearer {fake.api_key}" for r in fake.chat_requests())

    raw = post(gw, {"model": "emb", "input": ["first chunk", "x y"], "encoding_format": "float"})
    validate(raw.json(), "CreateEmbeddingResponse")
    b64 = post(gw, {"model": "emb", "input": ["first chunk", "x y"], "encoding_format": "base64"}).json()
    assert [decode_base64(d["embedding"]) for d in b64["data"]] == [float32(d["embedding"]) for d in raw.json()["data"]]


def test_gemini_batch_embed_contents_with_output_dimensionality(make_fake, make_gateway):
    fake = make_fake("gemini")
    gw = make_gateway(config=config_for(fake))
    client = client_for(gw)
    texts = [f"gemini text {n}" for n in range(150)]  # over batchEmbedContents' 100 per call
    result = client.embeddings.create(model="emb", input=texts, dimensions=12)
    assert len(result.data) == 150
    for d, text in zip(result.data, texts):
        assert same_float32(d.embedding, vector("text-embedding-004", text, 12))
    calls = [r for r in fake.chat_requests() if r.path.endswith(":batchEmbedContents")]
    assert sorted(fake.embedding_calls) == [50, 100]
    assert all(r.path == "/v1beta/models/text-embedding-004:batchEmbedContents" for r in calls)
    assert all(req["outputDimensionality"] == 12 and req["model"] == "models/text-embedding-004"
               for r in calls for req in r.body["requests"])
    assert all(r.headers.get("x-goog-api-key") == fake.api_key for r in calls)

    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="emb", input=[[1, 2, 3]])
    assert refused.value.body["param"] == "input" and "token ids" in refused.value.body["message"]
    assert len(fake.embedding_calls) == 2  # refused before any call


def test_the_mock_embeds_out_of_the_box(gateway):
    client = client_for(gateway)
    first = client.embeddings.create(model="mock-embedding", input=["alpha", "beta"])
    again = client.embeddings.create(model="mock-embedding", input=["beta"], encoding_format="float")
    assert len(first.data[0].embedding) == 1536
    assert first.data[1].embedding == float32(again.data[0].embedding)
    assert first.data[0].embedding != first.data[1].embedding
    for d in first.data:
        assert math.isclose(sum(v * v for v in d.embedding), 1.0, rel_tol=1e-4)
    assert len(client.embeddings.create(model="mock-embedding", input="x", dimensions=64).data[0].embedding) == 64
    assert "mock-embedding" in [m.id for m in client.models.list()]


def test_models_that_cannot_embed_and_wrong_kinds_are_400s(make_fake, make_gateway):
    anthropic = make_fake("anthropic")
    config = {"providers": {"ant": {"type": "anthropic", "base_url": anthropic.base_url, "api_key": anthropic.api_key}},
              "models": {"claude": {"provider": "ant", "model": "claude-sonnet-4-5"}}}
    gw = make_gateway(config=config)
    client = client_for(gw)
    with pytest.raises(openai.BadRequestError) as no_api:
        client.embeddings.create(model="claude", input="hello")
    assert no_api.value.body["param"] == "model" and "`claude`" in no_api.value.body["message"]
    assert "no embeddings API" in no_api.value.body["message"]
    with pytest.raises(openai.BadRequestError) as chat_model:
        client.embeddings.create(model="mock-gpt", input="hello")
    assert chat_model.value.body["code"] == "model_not_supported"
    with pytest.raises(openai.BadRequestError) as embedding_model:
        client.chat.completions.create(model="mock-embedding", messages=[{"role": "user", "content": "hi"}])
    assert "embedding model" in embedding_model.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="hello")
    assert anthropic.chat_requests() == []


@pytest.mark.parametrize("body, param", [
    ({"model": "mock-embedding"}, "input"),
    ({"model": "mock-embedding", "input": ""}, "input"),
    ({"model": "mock-embedding", "input": ["a", ""]}, "input[1]"),
    ({"model": "mock-embedding", "input": ["a", 1]}, "input[1]"),
    ({"model": "mock-embedding", "input": ["x"] * 2049}, "input"),
    ({"model": "mock-embedding", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "mock-embedding", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x"}, "model"),
])
def test_invalid_requests_name_the_field(gateway, body, param):
    r = post(gateway, body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_a_partly_cached_batch_sends_only_the_missing_items(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = make_gateway(config=config_for(fake))
    client = client_for(gw)
    chunks = [f"document chunk {n:03d}" for n in range(100)]
    seen = [c for n, c in enumerate(chunks) if n % 10 != 7]
    client.embeddings.create(model="emb", input=seen)
    assert fake.embedding_items == 90

    r = post(gw, {"model": "emb", "input": chunks})
    assert r.status_code == 200
    assert fake.embedding_items == 100  # exactly the 10 missing items went upstream
    assert fake.chat_requests()[-1].body["input"] == [c for n, c in enumerate(chunks) if n % 10 == 7]
    assert r.headers["X-Cache"] == "PARTIAL" and r.headers["X-UltraGate-Cache-Items"] == "90/100"
    body = r.json()
    assert [d["index"] for d in body["data"]] == list(range(100))
    for d, chunk in zip(body["data"], chunks):
        assert same_float32(d["embedding"], vector(UPSTREAM, chunk))
    assert body["usage"] == {"prompt_tokens": 300, "total_tokens": 300}  # three words each, as without the cache

    again = post(gw, {"model": "emb", "input": chunks})
    assert again.headers["X-Cache"] == "HIT" and again.headers["X-UltraGate-Cache-Items"] == "100/100"
    assert fake.embedding_items == 100 and len(fake.embedding_calls) == 2
    assert again.json() == body

    assert requests.get(gw.base_url + "/v1/stats", timeout=30).json()["cache"]["embedding_items"] == 100
    metrics = scrape(gw)
    items = {tuple(sorted(s.labels.items())): s.value for s in metrics["ultragate_embedding_items"].samples
             if s.name == "ultragate_embedding_items_total"}
    assert items[(("model", "emb"), ("result", "hit"))] == 190
    assert items[(("model", "emb"), ("result", "miss"))] == 100


def test_items_survive_a_restart_and_cache_control_works_per_request(make_fake, make_gateway):
    fake = make_fake("openai")
    first = make_gateway(config=config_for(fake))
    post(first, {"model": "emb", "input": ["durable item"]})
    cache_dir = first.cache_dir
    first.stop()
    second = make_gateway(config=config_for(fake), cache_dir=cache_dir)
    hit = post(second, {"model": "emb", "input": ["durable item"]})
    assert hit.headers["X-Cache"] == "HIT" and fake.embedding_items == 1

    post(second, {"model": "emb", "input": ["not kept"]}, headers={"Cache-Control": "no-store"})
    assert post(second, {"model": "emb", "input": ["not kept"]}).headers["X-Cache"] == "MISS"
    assert fake.embedding_items == 3
    refreshed = post(second, {"model": "emb", "input": ["durable item"]}, headers={"Cache-Control": "no-cache"})
    assert refreshed.headers["X-Cache"] == "BYPASS" and fake.embedding_items == 4


def test_concurrent_requests_are_batched_and_a_bad_item_fails_alone(make_fake, make_gateway):
    fake = make_fake("openai")
    gw = make_gateway(config=config_for(fake, embeddings={"batch_window_ms": 200}))
    client = client_for(gw)
    texts = [f"single item {n}" for n in range(50)]

    def one(text):
        try:
            return client.embeddings.create(model="emb", input=text)
        except openai.BadRequestError as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, texts))
    for text, result in zip(texts, results):
        assert not isinstance(result, Exception), result
        assert same_float32(result.data[0].embedding, vector(UPSTREAM, text))
    # 50 requests within one window reach the fake as a few batch calls.
    assert fake.embedding_items == 50
    assert len(fake.embedding_calls) < 25, fake.embedding_calls

    # In a batch with others, the request with a refused item fails alone.
    mixed = [f"second round {n}" for n in range(5)] + ["an INVALID item"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, mixed))
    for text, result in zip(mixed[:5], results[:5]):
        assert not isinstance(result, Exception), result
        assert same_float32(result.data[0].embedding, vector(UPSTREAM, text))
    assert isinstance(results[-1], openai.BadRequestError) and results[-1].body["param"] == "input"
