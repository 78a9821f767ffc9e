"""RFC 9112 behaviour of the gateway's own HTTP/1.1 server, probed with raw sockets."""
import gzip
import json
import socket
import time

import pytest

CHAT = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}).encode()
CHUNKED = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n")


def connect(gateway, timeout=10):
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout)
    return s


def read_response(sock, buf=b""):
    """Reads one response (Content-Length or chunked); returns (status, headers, body, rest)."""
    status, headers, body, _, rest = read_response_with_trailers(sock, buf)
    return status, headers, body, rest


def read_response_with_trailers(sock, buf=b""):
    """Reads one response; returns (status, headers, body, trailers, rest), trailers being the
    chunked body's trailer section (RFC 9112 7.1.2) as a dict with lower-case names."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError(buf)
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status == 100:
        return status, headers, b"", {}, buf
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            data = sock.recv(65536)
            if not data:
                raise EOFError
            buf += data
        return status, headers, buf[:n], {}, buf[n:]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                trailers = {}
                while True:
                    while b"\r\n" not in buf:
                        buf += sock.recv(65536)
                    line, _, buf = buf.partition(b"\r\n")
                    if not line:
                        return status, headers, body, trailers, buf
                    k, _, v = line.decode("latin-1").partition(":")
                    trailers[k.strip().lower()] = v.strip()
            while len(buf) < size + 2:
                buf += sock.recv(65536)
            body += buf[:size]
            buf = buf[size + 2:]
    body = buf
    while True:
        data = sock.recv(65536)
        if not data:
            return status, headers, body, {}, b""
        body += data


def closed_by_server(sock):
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def post(path=b"/v1/chat/completions", body=CHAT, extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_keep_alive_and_pipelining_in_order(gateway):
    s = connect(gateway)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post() + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    st1, _, b1, rest = read_response(s)
    st2, h2, b2, rest = read_response(s, rest)
    st3, _, b3, rest = read_response(s, rest)
    assert (st1, st2, st3) == (200, 200, 200)
    assert json.loads(b1)["status"] == "ok"
    assert json.loads(b2)["object"] == "chat.completion"
    assert json.loads(b3)["object"] == "list"
    s.close()


def test_http10_closes_and_connection_close_is_honoured(gateway):
    s = connect(gateway)
    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    st, h, body, _ = read_response(s)
    assert st == 200 and closed_by_server(s)
    s = connect(gateway)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, h, body, _ = read_response(s)
    assert st == 200 and h.get("connection") == "close" and closed_by_server(s)


def test_chunked_request_body(gateway):
    s = connect(gateway)
    half = len(CHAT) // 2
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" +
              f"{half:x};ext=1\r\n".encode() + CHAT[:half] + b"\r\n" +
              f"{len(CHAT) - half:x}\r\n".encode() + CHAT[half:] + b"\r\n0\r\nTrailer: x\r\n\r\n")
    st, _, body, _ = read_response(s)
    assert st == 200 and json.loads(body)["object"] == "chat.completion"


def test_expect_100_continue(gateway):
    s = connect(gateway)
    s.sendall(post(body=b"", extra=b"Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: " + str(len(CHAT)).encode()))
    st, _, _, rest = read_response(s)
    assert st == 100
    s.sendall(CHAT)
    st, _, body, _ = read_response(s, rest)
    assert st == 200 and json.loads(body)["object"] == "chat.completion"


@pytest.mark.parametrize("raw,status", [
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    # chunk lines end in CRLF (RFC 9112 §7.1): a lone LF after a size, an extension, the last chunk or the trailers
    (CHUNKED + b"%x\n" % len(CHAT) + CHAT + b"\r\n0\r\n\r\n", 400),
    (CHUNKED + b"%x;a=b\n" % len(CHAT) + CHAT + b"\r\n0\r\n\r\n", 400),
    (CHUNKED + b"%x\r\n" % len(CHAT) + CHAT + b"\r\n0\n\r\n", 400),
    (CHUNKED + b"%x\r\n" % len(CHAT) + CHAT + b"\r\n0\r\n\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x\rX: 1\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\n\r\n", 400),
    # Host = uri-host [ ":" port ] (RFC 9110 §7.2), an invalid value is a 400 (RFC 9112 §3.2)
    (b"GET /health HTTP/1.1\r\nHost: x:abc\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: %zz\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nHost: x{y\r\n\r\n", 400),
    (b"GET /health HTTP/2.5\r\nHost: x\r\n\r\n", 505),
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(300)) + b"\r\n", 431),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", 413),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
])
def test_malformed_requests_get_their_status_and_close(gateway, raw, status):
    s = connect(gateway)
    s.sendall(raw)
    st, h, body, _ = read_response(s)
    assert st == status, body
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert h.get("x-request-id"), h  # answers the server gives itself carry a request id too
    assert closed_by_server(s)
    # the server keeps serving
    s2 = connect(gateway)
    s2.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s2)[0] == 200


@pytest.mark.parametrize("path,allow", [
    (b"/v1/models", "GET, HEAD"), (b"/v1/models/mock-gpt", "GET, HEAD"), (b"/health", "GET, HEAD"),
    (b"/metrics", "GET, HEAD"), (b"/v1/stats", "GET, HEAD"), (b"/v1/chat/completions", "POST"),
])
def test_405_allow_lists_every_supported_method(gateway, path, allow):
    """RFC 9110 §15.5.6: the Allow of a 405 lists all the methods the resource answers, HEAD included."""
    s = connect(gateway)
    s.sendall((b"PUT " if allow == "POST" else b"POST ") + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    st, h, body, _ = read_response(s)
    assert st == 405 and h["allow"] == allow
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    for method in allow.split(", "):
        s = connect(gateway)
        body = CHAT if method == "POST" else b""
        s.sendall(method.encode() + b" " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        answer = b""
        while data := s.recv(65536):
            answer += data
        head, _, payload = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        assert status == 200, (method, answer[:300])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.decode().partition(":") for line in head.split(b"\r\n")[1:])}
        if method == "HEAD":
            # RFC 9110 §9.3.2: the same header fields as GET, and no content.
            assert payload == b"", (path, payload[:100])
            assert headers["content-type"] and int(headers["content-length"]) > 0
        else:
            assert len(payload) == int(headers["content-length"])


def test_content_encoding_other_than_identity_is_415_and_the_connection_goes_on(gateway):
    """RFC 9110 §15.5.16 and §12.5.3: a coded body the gateway cannot decode is a 415 naming the coding it
    takes, not a JSON syntax error; the body is read, so the pipelined request after it is answered."""
    s = connect(gateway)
    s.sendall(post(body=gzip.compress(CHAT), extra=b"Content-Encoding: gzip\r\n") +
              post(extra=b"Content-Encoding: br, identity\r\n") +
              post(extra=b"Content-Encoding: Identity\r\n") +
              b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    rest = b""
    for coding in ("gzip", "br, identity"):
        st, h, body, rest = read_response(s, rest)
        assert st == 415 and h["accept-encoding"] == "identity", body
        assert json.loads(body) == {"error": {
            "message": f"Unsupported Content-Encoding `{coding}`; send the body uncompressed (`identity`).",
            "type": "invalid_request_error", "param": None, "code": "unsupported_content_encoding"}}
    st, _, body, rest = read_response(s, rest)
    assert st == 200 and json.loads(body)["object"] == "chat.completion"
    st, _, body, _ = read_response(s, rest)
    assert st == 200 and json.loads(body)["status"] == "ok"


def test_client_disconnect_mid_request_does_not_hurt(gateway):
    for _ in range(20):
        s = connect(gateway)
        s.sendall(post()[:40])
        s.close()
    s = connect(gateway)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 200
