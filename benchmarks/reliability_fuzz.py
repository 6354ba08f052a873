"""Fuzzing ``emolens serve``: schemathesis over the OpenAPI document, then mutated image files (bit flips, byte
runs, truncations, spliced chunks, huge declared sizes) of 31 file formats posted as uploads. Prints the answers
by status; any 5xx, a lost connection, a dead worker (its pid changed), a failing health or a worker whose peak
resident size reaches the stated bound is a failure.

    python benchmarks/reliability_fuzz.py [--examples 1000] [--images 2000] [--seed 8] [--all-formats] [--check]

Needs schemathesis (in the ``test`` extra). The seeds are a real photo in every format (:func:`seeds`);
``--all-formats`` lets the server decode all of Pillow's formats, to fuzz every decoder, not only the accepted.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
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
from common import PHOTOS
from PIL import Image
from support.web import letterbox, serving

PHOTO = PHOTOS / "images" / "deepface_img1.jpg"
MAX_WORKER_MB = 1536
"""The stated peak resident size of a worker (docs/reliability.md, tests/web/test_server.py)."""
XPM = b"""/* XPM */\nstatic char *x[] = {"2 2 2 1", "a c #000000", "b c #ffffff", "ab", "ba"};\n"""
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="20"/></svg>'
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\nshowpage\n%%EOF\n"


def _pillow(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def seeds() -> dict[str, bytes]:
    """Valid files of a face photo in 31 file formats (47 variants; Pillow's writers, OpenCV's and a few written
    by hand), by name: the accepted formats in their common variants (16-bit, float, CMYK, palette, compressed
    TIFFs, animations) and formats Pillow or OpenCV can read that uploads may not be in."""
    bgr = letterbox(PHOTO, 160, 120)
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    grey = rgb.convert("L")
    deep = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    real = Image.fromarray(np.asarray(grey).astype(np.float32) / 255)
    frames = {"save_all": True, "append_images": [rgb.rotate(5), rgb.rotate(10)]}
    out = {
        "JPEG": _pillow(rgb, "JPEG"), "JPEG progressive": _pillow(rgb, "JPEG", progressive=True),
        "JPEG grey": _pillow(grey, "JPEG"), "JPEG CMYK": _pillow(rgb.convert("CMYK"), "JPEG"),
        "MPO": _pillow(rgb, "MPO", **frames), "PNG": _pillow(rgb, "PNG"),
        "PNG RGBA": _pillow(rgb.convert("RGBA"), "PNG"),
        "PNG palette": _pillow(rgb.convert("P"), "PNG"), "PNG grey": _pillow(grey, "PNG"),
        "PNG 16-bit": _pillow(deep, "PNG"), "WEBP": _pillow(rgb, "WEBP"),
        "WEBP lossless": _pillow(rgb, "WEBP", lossless=True), "WEBP animated": _pillow(rgb, "WEBP", **frames),
        "GIF": _pillow(rgb, "GIF"), "GIF animated": _pillow(rgb, "GIF", **frames), "BMP": _pillow(rgb, "BMP"),
        "BMP palette": _pillow(rgb.convert("P"), "BMP"), "DIB": _pillow(rgb, "DIB"), "TIFF": _pillow(rgb, "TIFF"),
        "TIFF LZW": _pillow(rgb, "TIFF", compression="tiff_lzw"), "TIFF JPEG": _pillow(rgb, "TIFF", compression="jpeg"),
        "TIFF deflate": _pillow(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "TIFF 16-bit": _pillow(deep, "TIFF"), "TIFF float": _pillow(real, "TIFF"),
        "EPS": EPS, "SVG": SVG, "XPM": XPM, "PDF": _pillow(rgb, "PDF"),
    }
    for fmt in ("AVIF", "BLP", "DDS", "ICNS", "ICO", "IM", "JPEG2000", "MSP", "PCX", "PPM", "QOI", "SGI", "SPIDER",
                "TGA", "XBM", "PALM"):
        image = {"MSP": rgb.convert("1"), "XBM": rgb.convert("1"), "SPIDER": real, "BLP": rgb.convert("P"),
                 "PALM": rgb.convert("P")}.get(fmt, rgb)
        out[fmt] = _pillow(image, fmt)
    for name, suffix in (("SUN raster", ".ras"), ("Radiance HDR", ".hdr"), ("PFM", ".pfm")):
        out[name] = cv2.imencode(suffix, bgr.astype(np.float32) / 255 if suffix != ".ras" else bgr)[1].tobytes()
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


def images(url: str, count: int, seed: int) -> tuple[collections.Counter[int], collections.Counter[str]]:
    """Post ``count`` mutated images (the seeds in turn, each mutated at random); the answers' statuses, and the
    seeds whose mutations got a 5xx or a lost connection."""
    rng = random.Random(seed)
    bases = list(seeds().items())
    parts = urlsplit(url)
    statuses: collections.Counter[int] = collections.Counter()
    failing: collections.Counter[str] = collections.Counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    for i in range(count):
        name, data = bases[i % len(bases)]
        body = mutate(data, rng)
        try:
            conn.request("POST", "/api/v1/analyze?source=upload", body, {"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0  # connection lost
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        statuses[status] += 1
        if status == 0 or status >= 500:
            failing[name] += 1
    return statuses, failing


def peak_mb(pids: set[str]) -> int:
    """The largest peak resident size (VmHWM) among ``pids``, in MB."""
    def hwm(pid: str) -> int:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) // 1024
    return max((hwm(pid) for pid in pids if Path(f"/proc/{pid}").exists()), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="schemathesis examples per operation")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--all-formats", action="store_true",
                        help="let the server decode every format Pillow reads (IMAGE_FORMATS), not just the default")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 on a 500, a dead worker, failing health or a worker over the stated peak")
    args = parser.parse_args()
    env = {"EMOLENS_STORE_IMAGES": "true"}
    if args.all_formats:
        Image.init()
        env["EMOLENS_IMAGE_FORMATS"] = ",".join(sorted(Image.OPEN))
    with serving(env=env) as url:
        port = int(url.rsplit(":", 1)[1])
        workers = worker_pids(port)
        started = time.monotonic()
        api = schemathesis(url, args.examples, args.seed) if args.examples else collections.Counter()
        print(f"schemathesis: {sum(api.values())} requests in {time.monotonic() - started:.0f} s, "
              f"answers {dict(sorted(api.items()))}")
        started = time.monotonic()
        mutated, failing = images(url, args.images, args.seed)
        allowed = "every format allowed" if args.all_formats else "default formats"
        print(f"mutated images of {len(seeds())} seeds ({allowed}): {sum(mutated.values())} in "
              f"{time.monotonic() - started:.0f} s, answers {dict(sorted(mutated.items()))}"
              + (f"; 5xx or lost from {dict(failing)}" if failing else ""))
        alive = worker_pids(port) == workers
        peak = peak_mb(workers)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/v1/health")
        healthy = conn.getresponse().status == 200
    print(f"workers alive (same pids): {alive}, health ok: {healthy}, worker peak RSS {peak} MB "
          f"(stated bound {MAX_WORKER_MB} MB)")
    failed = api[500] + sum(n for status, n in mutated.items() if status == 0 or status >= 500) or not alive \
        or not healthy or peak >= MAX_WORKER_MB
    if args.check and failed:
        sys.exit("check failed")


if __name__ == "__main__":
    main()
