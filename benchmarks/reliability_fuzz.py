"""Fuzzing ``emolens serve``: schemathesis over the OpenAPI document, then mutated image files (bit flips, byte
runs, truncations, spliced chunks, huge declared sizes) posted as uploads. Prints the answers by status; any 500,
a dead worker (its pid changed) or a failing health is a failure.

    python benchmarks/reliability_fuzz.py [--examples 1000] [--images 2000] [--seed 8] [--check]

Needs schemathesis (in the ``test`` extra). Seeds come from the real photos and from images built here.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from emolens.web.testing import letterbox, serving

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "face_photos" / "images" / "deepface_img1.jpg"


def seeds() -> list[bytes]:
    """Valid images in several formats: a face photo as JPEG, PNG and WebP, a grey PNG, a tiny GIF-like BMP."""
    frame = letterbox(PHOTO, 320, 240)
    out = [cv2.imencode(ext, frame)[1].tobytes() for ext in (".jpg", ".png", ".webp", ".bmp")]
    out.append(cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[1].tobytes())
    return out


def _png_size_lie(data: bytes, rng: random.Random) -> bytes:
    """A PNG whose header declares another (often huge) size."""
    if not data.startswith(b"\x89PNG"):
        return data
    width, height = rng.choice([(1, 1), (65535, 65535), (40000, 1), (1, 40000), (0, 10), (2**31 - 1, 2)])
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        position = rng.randrange(max(1, len(buf)))
        if kind == 0:  # flip bits
            for _ in range(rng.randint(1, 32)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif kind == 1:  # overwrite a run with one byte (0x00 or 0xff)
            buf[position:position + rng.randint(1, 256)] = bytes([rng.choice([0, 255])]) * rng.randint(1, 256)
        elif kind == 2:  # truncate
            del buf[position:]
        elif kind == 3:  # duplicate a chunk elsewhere
            chunk = buf[position:position + rng.randint(1, 4096)]
            at = rng.randrange(max(1, len(buf)))
            buf[at:at] = chunk
        elif kind == 4:  # interesting integers in the first 64 bytes (headers)
            at = rng.randrange(min(64, max(1, len(buf) - 4)))
            buf[at:at + 4] = struct.pack(">I", rng.choice([0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
        else:
            buf = bytearray(_png_size_lie(bytes(buf), rng))
        if not buf:
            break
    return bytes(buf)


def worker_pids(port: int) -> set[str]:
    master = subprocess.run(["pgrep", "-o", "-f", f"serve --host 127.0.0.1 --port {port}"],
                            capture_output=True, text=True).stdout.split()
    return set(subprocess.run(["pgrep", "-P", master[0]], capture_output=True, text=True).stdout.split())


def schemathesis(url: str, examples: int, seed: int) -> collections.Counter[int]:
    """Run schemathesis (every phase, every check) against ``url``; the answers' statuses, from its HAR log."""
    with tempfile.TemporaryDirectory() as folder:
        har = Path(folder) / "run.har"
        subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{url}/api/v1/openapi.json",
                        "--max-examples", str(examples), "--seed", str(seed), "--workers", "2",
                        "--report", "har", "--report-har-path", str(har), "--suppress-health-check", "all"],
                       check=False, stdout=subprocess.DEVNULL if examples > 50 else None, cwd=folder)
        entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    return collections.Counter(entry["response"]["status"] for entry in entries)


def images(url: str, count: int, seed: int) -> collections.Counter[int]:
    """Post ``count`` mutated images; the answers' statuses."""
    rng = random.Random(seed)
    bases = seeds()
    parts = urlsplit(url)
    statuses: collections.Counter[int] = collections.Counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    for _ in range(count):
        body = mutate(rng.choice(bases), rng)
        try:
            conn.request("POST", "/api/v1/analyze?source=upload", body, {"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            statuses[0] += 1  # connection lost
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="schemathesis examples per operation")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="exit 1 on a 500, a dead worker or failing health")
    args = parser.parse_args()
    with serving(env={"EMOLENS_STORE_IMAGES": "true"}) as url:
        port = int(url.rsplit(":", 1)[1])
        workers = worker_pids(port)
        started = time.monotonic()
        api = schemathesis(url, args.examples, args.seed)
        print(f"schemathesis: {sum(api.values())} requests in {time.monotonic() - started:.0f} s, "
              f"answers {dict(sorted(api.items()))}")
        started = time.monotonic()
        mutated = images(url, args.images, args.seed)
        print(f"mutated images: {sum(mutated.values())} in {time.monotonic() - started:.0f} s, "
              f"answers {dict(sorted(mutated.items()))}")
        alive = worker_pids(port) == workers
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/v1/health")
        healthy = conn.getresponse().status == 200
    print(f"workers alive (same pids): {alive}, health ok: {healthy}")
    failed = api[500] + mutated[500] + mutated[0] or not alive or not healthy
    if args.check and failed:
        sys.exit("check failed")


if __name__ == "__main__":
    main()
