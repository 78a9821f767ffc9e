"""TLS to upstreams: the gateway verifies an HTTPS provider's certificate and host name by default,
trusts the CAs of `providers.NAME.ca_file` instead of the system's when given, and answers an
untrusted certificate or a wrong host name with a 502 `upstream_tls_error` (not retried). The
fakes serve HTTPS with certificates made at test time by the `openssl` command (tls_certs.py)."""
import json
import os
import subprocess

import openai
import pytest
import requests

from conftest import BINARY, scrape
from fake_providers import FakeProvider
from tls_certs import CertificateAuthority, server_context

KEY_ENV = "E2E_TLS_FAKE_KEY"
MESSAGES = [{"role": "user", "content": "Say hello over TLS"}]
#: Three attempts allowed: a TLS failure must still reach the fake only once.
RETRY = {"max_attempts": 3, "base_delay": 0.05, "max_delay": 0.2, "deadline": 20}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A trusted CA with certificates for the loopback address and for another name, and a second
    CA (never configured) with a loopback certificate of its own."""
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(directory, "ca")
    stranger = CertificateAuthority.create(directory, "stranger-ca")
    return {
        "ca": ca.cert,
        "good": ca.issue("localhost", ["DNS:localhost", "IP:127.0.0.1"]),
        "wrong_name": ca.issue("other", ["DNS:other.example"]),
        "other_ca": stranger.issue("localhost-by-stranger", ["DNS:localhost", "IP:127.0.0.1"]),
    }


@pytest.fixture
def https_fake():
    fakes = []

    def make(cert_and_key, kind="openai"):
        fake = FakeProvider(kind, tls=server_context(*cert_and_key))
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.close()


def provider(fake, ca_file=None):
    entry = {"type": fake.kind, "base_url": fake.base_url, "api_key": "${%s}" % KEY_ENV, "retry": RETRY,
             "timeouts": {"connect": 5, "first_byte": 20, "idle": 20, "total": 30}}
    if ca_file is not None:
        entry["ca_file"] = str(ca_file)
    return entry


def start(make_gateway, fake, **providers):
    config = {"providers": providers,
              "models": {name: {"provider": name, "model": "tls-model"} for name in providers}}
    return make_gateway(config=config, env={KEY_ENV: fake.api_key})


def client_for(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0, timeout=30)


def assert_tls_error(gateway, model, fake, reason):
    """A 502 `upstream_tls_error` in OpenAI's shape, for a plain and a streamed request; the fake
    saw one connection per request (no retry) and no HTTP request at all. (The host name is checked
    by libcurl after the handshake, so the fake sees a handshake failure for an untrusted CA only.)"""
    connections = fake.connections
    for stream in (False, True):
        r = requests.post(gateway.base_url + "/v1/chat/completions", timeout=30,
                          json={"model": model, "messages": MESSAGES, "stream": stream})
        assert r.status_code == 502, r.text
        error = r.json()["error"]
        assert error["type"] == "upstream_error" and error["code"] == "upstream_tls_error" and error["param"] is None
        assert error["message"].startswith(f"{model}: TLS error: the upstream's certificate could not be verified")
        assert reason in error["message"]
        assert fake.api_key not in r.text
    assert fake.requests == []
    assert fake.connections == connections + 2
    errors = scrape(gateway)["ultragate_upstream_errors"]
    assert any(s.labels.get("kind") == "tls" and s.labels.get("provider") == model and s.value == 2
               for s in errors.samples if s.name == "ultragate_upstream_errors_total")


def test_a_certificate_from_the_configured_ca_is_trusted(make_gateway, https_fake, pki):
    fake = https_fake(pki["good"])
    client = client_for(start(make_gateway, fake, tls=provider(fake, ca_file=pki["ca"])))
    completion = client.chat.completions.create(model="tls", messages=MESSAGES)
    assert completion.choices[0].message.content == "openai tls-model says: Say hello over TLS"
    text = "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model="tls", messages=MESSAGES, stream=True, extra_headers={"Cache-Control": "no-cache"})
                   if c.choices)
    assert text == "openai tls-model says: Say hello over TLS"
    assert len(fake.requests) == 2 and fake.requests[0].headers["authorization"] == f"Bearer {fake.api_key}"
    assert fake.tls_failures == 0


def test_without_ca_file_a_private_ca_is_not_trusted(make_gateway, https_fake, pki):
    fake = https_fake(pki["good"])
    gateway = start(make_gateway, fake, tls=provider(fake))
    assert_tls_error(gateway, "tls", fake, "unable to get local issuer certificate")


def test_a_certificate_for_another_host_name_is_refused(make_gateway, https_fake, pki):
    fake = https_fake(pki["wrong_name"])
    gateway = start(make_gateway, fake, tls=provider(fake, ca_file=pki["ca"]))
    assert_tls_error(gateway, "tls", fake, "127.0.0.1")


def test_a_certificate_signed_by_another_ca_is_refused(make_gateway, https_fake, pki):
    fake = https_fake(pki["other_ca"])
    gateway = start(make_gateway, fake, tls=provider(fake, ca_file=pki["ca"]))
    assert_tls_error(gateway, "tls", fake, "unable to get local issuer certificate")


def test_trust_is_per_provider_even_on_one_host(make_gateway, https_fake, pki):
    """Two providers on the same HTTPS server, one with the CA and one without: the second never
    rides on the first's verified connection or handle settings, whichever goes first."""
    fake = https_fake(pki["good"], kind="anthropic")
    gateway = start(make_gateway, fake, trusting=provider(fake, ca_file=pki["ca"]), plain=provider(fake))
    client = client_for(gateway)
    for _ in range(2):
        assert client.chat.completions.create(model="trusting", messages=MESSAGES,
                                              extra_headers={"Cache-Control": "no-cache"}).choices[0].message.content
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="plain", messages=MESSAGES, extra_headers={"Cache-Control": "no-cache"})
        assert refused.value.status_code == 502 and refused.value.body["code"] == "upstream_tls_error"
    assert len(fake.requests) == 2 and all(r.path == "/v1/messages" for r in fake.requests)


@pytest.mark.parametrize("content,message", [
    (None, "providers.tls.ca_file: cannot read `"),
    ("not a certificate\n", "providers.tls.ca_file: `"),
])
def test_an_unusable_ca_file_stops_start_up(tmp_path, content, message):
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_text(content)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"providers": {"tls": {"type": "openai", "base_url": "https://127.0.0.1:9/v1",
                                                        "ca_file": str(ca_file)}},
                                  "models": {"tls": {"provider": "tls"}}}))
    run = subprocess.run([BINARY, "serve", "--port", "0", "--cache-dir", str(tmp_path / "c"), "--config", str(config)],
                         capture_output=True, text=True, timeout=30, env={k: v for k, v in os.environ.items()})
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and str(ca_file) in run.stderr
    if content is not None:
        assert "holds no PEM certificate" in run.stderr
