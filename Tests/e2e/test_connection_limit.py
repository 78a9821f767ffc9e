"""`server.max_connections` caps the connections of the whole server, every event loop together.
At the cap a new client is admitted by closing the keep-alive connection idle the longest; with
none idle it gets a 503 with `Connection: close` (never a reset). A connection that sends nothing
is held only for `server.request_timeout`."""
import http.client
import json
import select
import socket

import pytest

CAP = 4


def closed_by_server(sock):
    """Whether the server closed `sock` (readable, and at end of file)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


def wait_readable(socks, timeout):
    readable, _, _ = select.select(socks, [], [], timeout)
    return readable


def get_health(conn):
    conn.request("GET", "/health")
    r = conn.getresponse()
    r.read()
    return r.status


def limited_gateway(make_gateway, threads, **server):
    return make_gateway(args=["--threads", str(threads)], config={"server": {"max_connections": CAP, **server},
                                                                 "mock": {"latency_ms": 3000}})


@pytest.mark.parametrize("threads", [1, 2])
def test_at_the_cap_the_idlest_keep_alive_connection_makes_room(make_gateway, threads):
    gw = limited_gateway(make_gateway, threads)
    idle = [http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10) for _ in range(CAP)]
    for conn in idle:
        assert get_health(conn) == 200  # each now waits between requests (keep-alive)
    newcomer = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    assert get_health(newcomer) == 200
    # The eviction came before the newcomer was admitted, so its end of file is there already.
    wait_readable([c.sock for c in idle], 10)
    closed = [i for i, conn in enumerate(idle) if closed_by_server(conn.sock)]
    assert len(closed) == 1, f"exactly one idle connection makes room, not {closed}"
    if threads == 1:
        assert closed == [0], "the one idle the longest"
    for i, conn in enumerate(idle):
        if i not in closed:
            assert get_health(conn) == 200
    assert get_health(newcomer) == 200
    for conn in idle + [newcomer]:
        conn.close()


def test_at_the_cap_with_every_connection_busy_a_new_client_gets_503_not_a_reset(make_gateway):
    # Two loops: with the cap counted per loop (the old behaviour) the fifth would be served.
    gw = limited_gateway(make_gateway, 2)
    busy = []
    for i in range(CAP):
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(
            {"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": f"busy {i}"}]}),
            headers={"Content-Type": "application/json"})
        response = conn.getresponse()  # the stream has begun: this connection is mid-response
        assert response.status == 200
        busy.append((conn, response))

    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := s.recv(65536):  # a reset would raise ConnectionResetError here
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable", received
    assert "Connection: close" in lines and "Retry-After: 1" in lines
    error = json.loads(body)["error"]
    assert error["type"] == "server_error" and error["code"] == "server_overloaded"
    assert set(error) == {"message", "type", "param", "code"}

    for conn, response in busy:  # the busy ones were not disturbed
        assert b"data: [DONE]" in response.read()
        conn.close()


def test_a_connection_that_sends_nothing_is_held_only_for_the_request_timeout(make_gateway):
    gw = make_gateway(config={"server": {"request_timeout": 1, "idle_timeout": 60}})
    keep_alive = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    assert get_health(keep_alive) == 200
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as silent:
        # Closed after about a second; the margin only guards against a loaded machine.
        assert wait_readable([silent], 20), "still open long after request_timeout"
        assert silent.recv(1) == b"", "closed without an answer"
    assert not closed_by_server(keep_alive.sock), "an idle keep-alive connection has idle_timeout"
    assert get_health(keep_alive) == 200
    keep_alive.close()
