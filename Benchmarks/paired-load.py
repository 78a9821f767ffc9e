#!/usr/bin/env python3
"""Paired load: the same requests to several gateways in strict turns, and the CPU time each
gateway's threads ran per request (nanoseconds, /proc/PID/task/*/schedstat).

Each turn writes BATCH pipelined requests to every gateway's connection and then reads every
answer, the order turning over every turn, so the gateways do the same work at the same moments: whatever the neighbours on a shared
machine do, they do it to all of them, and the batching (which decides the system calls a request
costs) is fixed by the client rather than by how the load happened to fall. Gateway CPU per
request is then compared round by round (ROUNDS rounds of SECONDS / ROUNDS each).

  paired-load.py --seconds S --rounds N --batch B --body FILE [--header 'Name: value']... \
                 --target NAME=PORT:PID [--target ...]

Prints one line per round ("round i: NAME µs ...") and, per target after the first, the median
of its rounds' ratios to the first target, as "NAME: +x.x% (median of N rounds; min .. max)".
"""
import argparse
import glob
import socket
import statistics
import sys
import time


def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


class Target:
    def __init__(self, spec, request, batch):
        self.name, rest = spec.split("=", 1)
        port, pid = rest.split(":")
        self.pid = int(pid)
        self.sock = socket.create_connection(("127.0.0.1", int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.batch = request * batch
        self.count = batch
        self.buffer = b""
        self.statuses = {}

    def send(self):
        self.sock.sendall(self.batch)

    def receive(self):
        """Reads `count` answers, each a head with Content-Length and its body."""
        left = self.count
        buf = self.buffer
        while left:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                buf += self.recv()
                continue
            head = buf[:end]
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(buf) < end + 4 + length:
                buf += self.recv()
                continue
            self.statuses[status] = self.statuses.get(status, 0) + 1
            buf = buf[end + 4 + length:]
            left -= 1
        self.buffer = buf

    def recv(self):
        data = self.sock.recv(1 << 20)
        if not data:
            sys.exit(f"{self.name}: connection closed")
        return data


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--path", default="/v1/chat/completions")
    p.add_argument("--body", required=True)
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--target", action="append", required=True)
    a = p.parse_args()
    body = open(a.body, "rb").read()
    head = f"POST {a.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "".join(h + "\r\n" for h in a.header)
    request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    targets = [Target(spec, request, a.batch) for spec in a.target]
    # Warm up: the first request of each is the miss that fills its cache.
    for t in targets:
        t.count = 1
        t.sock.sendall(request)
        t.receive()
        t.count = a.batch
    for _ in range(20):
        for t in targets:
            t.send()
        for t in targets:
            t.receive()
    for t in targets:
        t.statuses = {}
    per_round = a.seconds / a.rounds
    rows = []
    for r in range(a.rounds):
        start = [cpu_ns(t.pid) for t in targets]
        turns = 0
        until = time.monotonic() + per_round
        while time.monotonic() < until:
            # Who goes first turns over every turn: going first or last costs a gateway more
            # or less kernel time (an A/A run with a fixed order differed by 8 %).
            order = targets if turns % 2 == 0 else targets[::-1]
            for t in order:
                t.send()
            for t in order:
                t.receive()
            turns += 1
        used = [cpu_ns(t.pid) - s for t, s in zip(targets, start)]
        requests = turns * a.batch
        row = [u / requests / 1e3 for u in used]
        rows.append(row)
        print(f"round {r + 1}: {requests} requests each; " +
              ", ".join(f"{t.name} {us:.3f} µs" for t, us in zip(targets, row)), flush=True)
    for t in targets:
        bad = {k.decode(): v for k, v in t.statuses.items() if k != b"200"}
        if bad:
            sys.exit(f"{t.name}: answers other than 200: {bad}")
    base = targets[0]
    for i, t in enumerate(targets[1:], 1):
        ratios = [(row[i] - row[0]) / row[0] * 100 for row in rows]
        med = statistics.median(ratios)
        total = sum(row[i] for row in rows) / sum(row[0] for row in rows) * 100 - 100
        print(f"{t.name} vs {base.name}: {med:+.1f}% (median of {len(rows)} rounds; "
              f"{min(ratios):+.1f}% .. {max(ratios):+.1f}%; all rounds together {total:+.1f}%)")


if __name__ == "__main__":
    main()
