"""Helpers for tests and benchmarks of the web app: run ``emolens serve`` in a subprocess, make camera-sized
frames from photos, feed them to Chromium's fake camera, and drive headless Chromium (needs ``selenium``, in
the ``test`` extra, and Debian's ``chromium`` and ``chromium-driver``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
"""Headless, offline-quiet Chromium whose camera is a fake device (and never asks for permission)."""


def letterbox(path: Path, width: int = 640, height: int = 480) -> np.ndarray:
    """A photo scaled to fit ``width`` x ``height`` (BGR), centred on black, like a camera frame."""
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path}: not a readable image")
    scale = min(width / image.shape[1], height / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.zeros((height, width, 3), np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def jpeg(frame: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of a BGR frame."""
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = 15) -> None:
    """BGR frames as a raw 4:2:0 YUV4MPEG2 video, the format Chromium's fake camera reads (and loops)."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def camera_video(path: Path, photo: Path, frames: int = 15) -> Path:
    """A short video of ``photo`` panning slowly sideways, for ``--use-file-for-fake-video-capture``."""
    frame = letterbox(photo)
    write_y4m(path, [np.roll(frame, 2 * i, axis=1) for i in range(frames)])
    return path


@contextlib.contextmanager
def serving(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            host: str = "127.0.0.1") -> Iterator[str]:
    """``emolens serve`` on a free port of ``host`` (a loopback address), with a throw-away data folder unless
    ``env`` names one; yields its URL once health answers, and stops it afterwards."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen([sys.executable, "-c", "from emolens.cli.main import cli; cli()", "serve",
                                    "--host", host, "--port", str(port), *args],
                                   env={**os.environ, "EMOLENS_DATA_DIR": data, **(env or {})})
        url = f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"
        try:
            deadline = time.monotonic() + timeout
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


def stalled_upload(port: int) -> socket.socket:
    """A connection to a local server that sends the headers of a 100 KB upload, two bytes of it, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /api/v1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                 b"Content-Length: 100000\r\n\r\n\xff\xd8")
    return sock


def unclosed_answer(port: int) -> socket.socket:
    """A connection to a local server that asks for the settings with ``Connection: close``, then never closes
    its side (nor reads the answer): the server must close it without waiting on it."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /api/v1/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    return sock


def start_chromium(folder: Path, video: Path, browser: str = "/usr/bin/chromium",
             driver: str = "/usr/bin/chromedriver") -> Chrome:
    """Headless Chromium through ChromeDriver, its camera playing ``video``, its profile in ``folder``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, "--window-size=1280,1500", f"--user-data-dir={folder / 'profile'}",
                 f"--use-file-for-fake-video-capture={video}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


class FreezableProxy:
    """A TCP forwarder on localhost to ``target`` (host, port) that can be frozen: while frozen it accepts
    connections and bytes but forwards nothing, like a database server stopped with SIGSTOP."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []  # closed by close()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.frozen.is_set() and not self._closed:
                    time.sleep(0.05)
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            sock.close()


def no_console_errors(driver: Chrome, expected: str | None = None) -> None:
    """Assert no JavaScript errors or Content-Security-Policy violations on the page (messages containing
    ``expected``, such as requests meant to fail, aside)."""
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and not (expected and expected in entry["message"])]
    assert not errors, errors


def set_viewport(driver: Chrome, width: int, height: int, light: bool = False) -> None:
    """Emulate a viewport of ``width`` x ``height`` CSS pixels (a phone's, with touch, below 600), in the dark
    colour scheme or the light one."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": width < 600, "maxTouchPoints": 5})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "light" if light else "dark"}]})


AXE_RUN = """const [rules, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(document, rules ? {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']}
  : {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
     resultTypes: ['violations']})
  .then((r) => done(r.violations.map((v) => ({id: v.id, help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').slice(0, 200)}`)}))),
    (e) => done([{id: 'axe-error', help: String(e), nodes: []}]));"""

SOLID_BACKGROUND = """const [name, html] = [arguments[0], document.documentElement];
html.removeAttribute('style');
if (name) {
  const colour = getComputedStyle(html).getPropertyValue(`--${name}`).trim();
  for (const v of ['--bg1', '--bg2', '--bg3', '--blob1', '--blob2']) html.style.setProperty(v, colour);
  html.style.setProperty('background', colour, 'important');
}"""

BACKGROUNDS = ("bg1", "bg2", "bg3", "blob1", "blob2")
"""The CSS variables of the page's background gradient and blurred blobs."""


def axe_violations(driver: Chrome, axe_js: str) -> list[dict]:
    """The page's WCAG 2.2 A and AA violations found by axe-core (its source ``axe_js``), each as
    ``{"id", "help", "nodes": ["selector: summary", ...]}``. axe cannot rate text contrast over a gradient, so
    colour contrast is checked once more with the background made solid in each colour of the gradient and of the
    blobs, the lightest and darkest places the glass can lie over."""
    driver.execute_script(axe_js)
    violations = driver.execute_async_script(AXE_RUN, None)
    try:
        for name in BACKGROUNDS:
            driver.execute_script(SOLID_BACKGROUND, name)
            violations += [{**v, "id": f"{v['id']} over --{name}"}
                           for v in driver.execute_async_script(AXE_RUN, ["color-contrast"])]
    finally:
        driver.execute_script(SOLID_BACKGROUND, None)
    return violations
