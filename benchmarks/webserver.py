"""Start ``emolens serve`` in a subprocess for the web benchmarks, and a 640x480 one-face JPEG to send it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "data" / "face_photos" / "images" / "deepface_img1.jpg"


def face_jpeg(path: Path = PHOTO) -> bytes:
    """A real one-face photo letterboxed into 640x480, as JPEG."""
    image = cv2.imread(str(path))
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


@contextlib.contextmanager
def serving(*args: str) -> Iterator[str]:
    """``emolens serve`` on a free localhost port with a throw-away database; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen([sys.executable, "-c", "from emolens.cli.main import cli; cli()", "serve",
                                    "--port", str(port), *args], env={**os.environ, "EMOLENS_DATA_DIR": data})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/v1/health", timeout=2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("emolens serve did not start") from None
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
