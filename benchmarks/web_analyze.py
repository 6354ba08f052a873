"""Throughput and latency of POST /api/v1/analyze: a 640x480 JPEG with one face, N concurrent clients, each
with one keep-alive connection, for a fixed time after a warm-up. Prints requests/s and latency percentiles.

    python benchmarks/web_analyze.py [--clients 4] [--seconds 20] [--url http://127.0.0.1:8000] [--threads 4]

Without --url it starts ``emolens serve`` itself (throw-away database). Target on 2 cores: >= 60 req/s, p95 <= 60 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from urllib.parse import urlsplit

from common import PHOTOS
from support.web import jpeg, letterbox, serving

from emolens.web import create_app

PHOTO = PHOTOS / "images" / "deepface_img1.jpg"


def client(url: str, body: bytes, stop_at: float, latencies: list[float], server_ms: list[float],
           errors: list[str]) -> None:
    """Post the image back to back until ``stop_at``; record each round trip and the server's own time, in ms."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Content-Type": "image/jpeg"}
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        conn.request("POST", "/api/v1/analyze?source=api&session=bench", body, headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200 or len(json.loads(payload)["faces"]) != 1:
            errors.append(f"{response.status} {payload[:200]!r}")
        else:
            server_ms.append(json.loads(payload)["timing"]["total_ms"])
        latencies.append((time.perf_counter() - start) * 1000)
    conn.close()


def run(url: str, clients: int, seconds: float, warmup: float) -> None:
    body = jpeg(letterbox(PHOTO))
    for _phase, duration in (("warm-up", warmup), ("measure", seconds)):
        latencies: list[float] = []
        server_ms: list[float] = []
        errors: list[str] = []
        stop_at = time.perf_counter() + duration
        threads = [threading.Thread(target=client, args=(url, body, stop_at, latencies, server_ms, errors))
                   for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100)
    print(f"POST /api/v1/analyze, 640x480 JPEG ({len(body)} bytes, one face), {clients} clients, "
          f"{seconds:g} s on {os.cpu_count()} cores")
    print(f"requests: {len(latencies)}  errors: {len(errors)}  throughput: {len(latencies) / elapsed:.1f} req/s")
    print(f"latency ms: mean {statistics.fmean(latencies):.1f}  p50 {cuts[49]:.1f}  p95 {cuts[94]:.1f}  "
          f"p99 {cuts[98]:.1f}  max {max(latencies):.1f}")
    print(f"server time per request (decode, analyse, store) ms: p50 {statistics.median(server_ms):.1f}")
    if errors:
        print("first error:", errors[0])


def cpu_per_request(body: bytes, n: int = 100) -> None:
    """CPU time per request of the whole app in this process (Flask test client, sequential): unlike the
    timings above, it hardly depends on what else the machine runs. 2 cores / this = the ceiling in req/s."""
    with tempfile.TemporaryDirectory() as data:
        client = create_app({"DATA_DIR": data}).test_client()
        for _ in range(5):
            client.post("/api/v1/analyze", data=body, content_type="image/jpeg")
        start = time.process_time()
        for _ in range(n):
            client.post("/api/v1/analyze", data=body, content_type="image/jpeg")
        cpu_ms = (time.process_time() - start) / n * 1000
    print(f"CPU per request, in process: {cpu_ms:.1f} ms -> at most {2000 / cpu_ms:.0f} req/s on 2 idle cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; default: start one")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--threads", type=int, default=4, help="server threads, when starting the server")
    args = parser.parse_args()
    cpu_per_request(jpeg(letterbox(PHOTO)))
    if args.url:
        run(args.url, args.clients, args.seconds, args.warmup)
        return
    with serving("--threads", str(args.threads)) as url:
        run(url, args.clients, args.seconds, args.warmup)


if __name__ == "__main__":
    main()
