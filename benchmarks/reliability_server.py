"""The HTTP server under stress, on loopback: mixed /predict traffic from many concurrent
keep-alive clients, a tenth of it invalid (malformed JSON, oversized, wrong types, an unknown
model), plus clients that hang up in the middle of a request and clients that send theirs in
slow pieces. Every valid answer is compared with the same texts predicted in-process; no answer
may be a 5xx; the server's resident memory is read before and after.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

from serve_load import free_port, start_server

from gatedrnn.sentiment import Predictor

TEXTS = ["A wonderful film.", "Two hours I will never get back.", "It was fine, I guess.",
         "The acting was wooden, but the soundtrack is wonderful.", "Funny, smart and never "
         "boring.", "", "Worst. Movie. Ever!!!", "Ein Film. 映画 🎬", "not bad at all " * 40]
INVALID = {  # what a broken client sends, and the status it must get (never a 5xx)
    "malformed JSON": (b'{"texts": ["A good film."', 422),
    "wrong type": (b'{"texts": 5}', 422),
    "oversized text": (json.dumps({"texts": ["long " * 5000]}).encode(), 413),
    "too many texts": (json.dumps({"texts": ["x"] * 300}).encode(), 413),
    "unknown model": (b'{"texts": ["A good film."], "model": "nope"}', 404),
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def http(body: bytes, length: int | None = None) -> bytes:
    return (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n\r\n").encode() + body


async def answer(reader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        length = int(value) if name.lower() == "content-length" else length
    return status, await reader.readexactly(length)


def plan(requests: int, seed: int) -> list[tuple[str, bytes, object]]:
    """(kind, body, expectation) per request: 90% valid (1-3 texts), 10% invalid."""
    rng = random.Random(seed)
    out = []
    for _ in range(requests):
        if rng.random() < 0.1:
            kind = rng.choice(sorted(INVALID))
            out.append((kind, *INVALID[kind]))
        else:
            chosen = rng.choices(range(len(TEXTS)), k=rng.randint(1, 3))
            out.append(("valid", json.dumps({"texts": [TEXTS[i] for i in chosen]}).encode(),
                        chosen))
    return out


async def client(port: int, work: list, expected: list, record: dict, tolerance: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for kind, body, expectation in work:
        started = time.perf_counter()
        writer.write(http(body))
        await writer.drain()
        status, payload = await answer(reader)
        record["status"][status] = record["status"].get(status, 0) + 1
        if kind != "valid":
            record["wrong"] += status != expectation
            continue
        record["latencies"].append(time.perf_counter() - started)
        got = json.loads(payload)["predictions"] if status == 200 else []
        want = [expected[i] for i in expectation]
        record["wrong"] += len(got) != len(want) or any(
            g["label"] != w["label"] or abs(g["confidence"] - w["confidence"]) > tolerance
            for g, w in zip(got, want))
    writer.close()


async def hang_up(port: int, record: dict) -> None:
    """Send half a request, then close the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(http(b'{"texts": ["half', length=100))
    await writer.drain()
    writer.close()
    record["hung_up"] += 1


async def slow(port: int, expected: list, record: dict, tolerance: float) -> None:
    """Send a valid request in pieces 50 ms apart; it must get the right answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = http(json.dumps({"texts": [TEXTS[0]]}).encode())
    for start in range(0, len(raw), len(raw) // 4 + 1):
        writer.write(raw[start:start + len(raw) // 4 + 1])
        await writer.drain()
        await asyncio.sleep(0.05)
    status, payload = await answer(reader)
    record["status"][status] = record["status"].get(status, 0) + 1
    got = json.loads(payload)["predictions"][0] if status == 200 else {}
    record["wrong"] += got.get("label") != expected[0]["label"] or abs(
        got.get("confidence", -1) - expected[0]["confidence"]) > tolerance
    record["slow"] += 1
    writer.close()


def stress(checkpoint: str, requests: int = 10_000, clients: int = 32, seed: int = 0,
           tolerance: float = 1e-4) -> dict:
    """Start ``gatedrnn serve CHECKPOINT`` and put it under the mixed load; the record."""
    expected = Predictor.load(checkpoint).predict(TEXTS)
    port = free_port()
    server = start_server(str(checkpoint), port)
    record = {"status": {}, "wrong": 0, "latencies": [], "hung_up": 0, "slow": 0}
    try:
        work = plan(requests, seed)
        warmup, rest = work[: len(work) // 10], work[len(work) // 10:]

        async def run(batch, extra):
            await asyncio.gather(
                *(client(port, batch[i::clients], expected, record, tolerance)
                  for i in range(clients)),
                *(hang_up(port, record) for _ in range(extra)),
                *(slow(port, expected, record, tolerance) for _ in range(extra)))

        asyncio.run(run(warmup, 0))  # the allocator settles; memory is measured from here
        rss_before = rss_kib(server.pid)
        started = time.perf_counter()
        asyncio.run(run(rest, max(2, requests // 200)))
        wall = time.perf_counter() - started
        rss_after = rss_kib(server.pid)
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    ordered = sorted(record.pop("latencies"))
    return {"requests": requests, "clients": clients,
            "invalid": sum(kind != "valid" for kind, _, _ in work),
            "hung_up": record["hung_up"], "slow_senders": record["slow"],
            "status_counts": {str(k): v for k, v in sorted(record["status"].items())},
            "server_errors_5xx": sum(v for k, v in record["status"].items() if k >= 500),
            "wrong_answers": record["wrong"], "server_alive_after": alive,
            "p50_ms": 1e3 * ordered[len(ordered) // 2],
            "p99_ms": 1e3 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
            "requests_per_s": len(rest) / wall, "rss_mib_before": rss_before / 1024,
            "rss_mib_after": rss_after / 1024, "rss_growth": rss_after / rss_before - 1}
