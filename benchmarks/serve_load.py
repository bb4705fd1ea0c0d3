"""Load check of `gatedrnn serve` on loopback: concurrent /predict requests, latency and errors.

    python benchmarks/serve_load.py CHECKPOINT --data ../shared/data/aclImdb_v1.tar.gz \\
        [--onnx] [--clients 8] [--requests 2000] [--out results]

Starts the server in its own process (as a user would), then:
  single   --requests requests of one IMDb test review each, from --clients concurrent
           clients: throughput, p50/p90/p99 latency, errors
  batched  requests of --batch reviews each from 2 clients: reviews/s
The server runs with its default settings (torch's thread count, one forward pass at a time),
or with --onnx (`gatedrnn serve --onnx`: forward passes in onnxruntime). Clients are plain
asyncio connections (keep-alive HTTP/1.1): they share the two cores with the server, and httpx
in threads (--httpx) costs more CPU per request than the server does.
Writes results/serve_load.json (PyTorch) or results/serve_load_onnx.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.data import imdb  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint: str, port: int, onnx: bool = False) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gatedrnn.cli", "serve", checkpoint,
                                "--port", str(port), *(["--onnx"] if onnx else [])],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {process.stderr.read()[-2000:]}")
    process.kill()
    raise RuntimeError("the server did not answer /health within 120 s")


async def _client(host: str, port: int, path: str, bodies: list[bytes], latencies: list,
                  errors: list) -> None:
    """One keep-alive connection sending its requests one after another (plain HTTP/1.1 on a
    socket: a Python HTTP library costs more CPU per request than the server being measured,
    and both share the same two cores)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for body in bodies:
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                    f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            start = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if b" 200 " not in status_line:
                errors.append(status_line)
    finally:
        writer.close()


def run_load(url: str, bodies: list[dict], clients: int) -> dict:
    """``clients`` concurrent connections, each sending its share of ``bodies`` in turn."""
    host, port, path = "127.0.0.1", int(url.split(":")[2].split("/")[0]), "/predict"
    encoded = [json.dumps(b).encode() for b in bodies]
    latencies, errors = [], []

    async def main():
        await asyncio.gather(*(_client(host, port, path, encoded[i::clients], latencies, errors)
                               for i in range(clients)))

    started = time.perf_counter()
    asyncio.run(main())
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p):
        return 1e3 * ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"requests": len(bodies), "clients": clients, "errors": len(errors)
            + len(bodies) - len(latencies), "wall_s": wall,
            "requests_per_s": len(bodies) / wall, "p50_ms": pct(0.50), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "mean_ms": 1e3 * statistics.fmean(latencies),
            "client": "asyncio, one keep-alive connection per client"}


def run_load_httpx(url: str, bodies: list[dict], clients: int) -> dict:
    """The same load from httpx clients in threads (heavier on the CPU the server shares)."""
    latencies, errors = [], 0

    def worker(chunk):
        nonlocal errors
        mine = []
        with httpx.Client(timeout=30) as client:
            for body in chunk:
                start = time.perf_counter()
                try:
                    response = client.post(url, json=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append(time.perf_counter() - start)
                if not ok:
                    errors += 1
        return mine

    chunks = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for mine in pool.map(worker, chunks):
            latencies.extend(mine)
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p):
        return 1e3 * ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"requests": len(bodies), "clients": clients, "errors": errors, "wall_s": wall,
            "requests_per_s": len(bodies) / wall, "p50_ms": pct(0.50), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "mean_ms": 1e3 * statistics.fmean(latencies),
            "client": "httpx, one thread per client"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True, help="IMDb archive: test reviews as requests")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--onnx", action="store_true", help="serve with `gatedrnn serve --onnx`")
    parser.add_argument("--httpx", action="store_true",
                        help="use httpx clients in threads instead of raw asyncio connections")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    reviews = [r.text for r in imdb.load(args.data).test]
    random.Random(0).shuffle(reviews)
    port = free_port()
    server = start_server(args.checkpoint, port, args.onnx)
    try:
        url = f"http://127.0.0.1:{port}/predict"
        load = run_load_httpx if args.httpx else run_load
        load(url, [{"texts": [t]} for t in reviews[:50]], 2)  # warm-up
        single = load(url, [{"texts": [reviews[i % len(reviews)]]}
                                for i in range(args.requests)], args.clients)
        batches = [{"texts": reviews[i:i + args.batch]}
                   for i in range(0, 40 * args.batch, args.batch)]
        batched = load(url, batches, 2)
        batched["reviews_per_s"] = batched["requests_per_s"] * args.batch
    finally:
        server.terminate()
        server.wait(30)
    words = statistics.fmean(len(t.split()) for t in reviews[: args.requests])
    results = {"environment": environment(seed=0), "checkpoint": args.checkpoint,
               "backend": "onnxruntime" if args.onnx else "pytorch",
               "mean_review_words": words, "single": single, "batched": batched}
    print(markdown_table(
        ["load", "requests", "errors", "throughput", "p50 (ms)", "p90 (ms)", "p99 (ms)"],
        [[f"1 review per request, {single['clients']} clients", single["requests"],
          single["errors"], f"{single['requests_per_s']:.0f} req/s", f"{single['p50_ms']:.1f}",
          f"{single['p90_ms']:.1f}", f"{single['p99_ms']:.1f}"],
         [f"{args.batch} reviews per request, 2 clients", batched["requests"], batched["errors"],
          f"{batched['reviews_per_s']:.0f} reviews/s", f"{batched['p50_ms']:.1f}",
          f"{batched['p90_ms']:.1f}", f"{batched['p99_ms']:.1f}"]]))
    name = "serve_load_onnx" if args.onnx else "serve_load"
    print(f"wrote {write_results(name, results, args.out)}")


if __name__ == "__main__":
    main()
