"""Load check of `gatedrnn serve` on loopback: concurrent /predict requests, latency and errors.

    python benchmarks/serve_load.py CHECKPOINT --data ../shared/data/aclImdb_v1.tar.gz \\
        [--clients 8] [--requests 2000] [--out results]

Starts the server in its own process (as a user would), then:
  single   --requests requests of one IMDb test review each, from --clients concurrent
           clients: throughput, p50/p90/p99 latency, errors
  batched  requests of --batch reviews each from 2 clients: reviews/s
The server runs with its default settings (torch's thread count, one forward pass at a time).
"""

from __future__ import annotations

import argparse
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


def start_server(checkpoint: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gatedrnn.cli", "serve", checkpoint,
                                "--port", str(port)], stderr=subprocess.PIPE, text=True)
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


def run_load(url: str, bodies: list[dict], clients: int) -> dict:
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
            "p99_ms": pct(0.99), "mean_ms": 1e3 * statistics.fmean(latencies)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True, help="IMDb archive: test reviews as requests")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    reviews = [r.text for r in imdb.load(args.data).test]
    random.Random(0).shuffle(reviews)
    port = free_port()
    server = start_server(args.checkpoint, port)
    try:
        url = f"http://127.0.0.1:{port}/predict"
        run_load(url, [{"texts": [t]} for t in reviews[:50]], 2)  # warm-up
        single = run_load(url, [{"texts": [reviews[i % len(reviews)]]}
                                for i in range(args.requests)], args.clients)
        batches = [{"texts": reviews[i:i + args.batch]}
                   for i in range(0, 40 * args.batch, args.batch)]
        batched = run_load(url, batches, 2)
        batched["reviews_per_s"] = batched["requests_per_s"] * args.batch
    finally:
        server.terminate()
        server.wait(30)
    words = statistics.fmean(len(t.split()) for t in reviews[: args.requests])
    results = {"environment": environment(seed=0), "checkpoint": args.checkpoint,
               "mean_review_words": words, "single": single, "batched": batched}
    print(markdown_table(
        ["load", "requests", "errors", "throughput", "p50 (ms)", "p90 (ms)", "p99 (ms)"],
        [[f"1 review per request, {single['clients']} clients", single["requests"],
          single["errors"], f"{single['requests_per_s']:.0f} req/s", f"{single['p50_ms']:.1f}",
          f"{single['p90_ms']:.1f}", f"{single['p99_ms']:.1f}"],
         [f"{args.batch} reviews per request, 2 clients", batched["requests"], batched["errors"],
          f"{batched['reviews_per_s']:.0f} reviews/s", f"{batched['p50_ms']:.1f}",
          f"{batched['p90_ms']:.1f}", f"{batched['p99_ms']:.1f}"]]))
    print(f"wrote {write_results('serve_load', results, args.out)}")


if __name__ == "__main__":
    main()
