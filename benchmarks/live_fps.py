"""The live page, as viewers use it: headless Chromium with a fake camera (a 640x480 video at 30 frames/s made from
a real photo) on /live, against ``emolens serve`` on localhost, in browser mode (the models run in the page; only
results are posted) or server mode (every frame goes to the server as a JPEG).

For each mode it prints the analysed frames/s the page shows (median of one sample a second over the window) and
its time per frame (the analysis in browser mode, the round trip in server mode; median over the first viewer), the
time from pressing Start to the first result (the models already in the browser's HTTP cache), the server's CPU
seconds over the window (the gunicorn master and workers, from /proc), and the requests that carried an image
(every fetch the pages made is recorded; a body that is not JSON text counts).

    python benchmarks/live_fps.py [--mode browser|server|both] [--seconds 15] [--viewers 1] [--width 320]
    python benchmarks/live_fps.py --results-only 8 [--seconds 15]

``--results-only N`` leaves the browsers out: N clients post what browser-mode viewers post (every 2 s, 60 frames
of one face each: a 30 frames/s camera), on keep-alive connections, and the server's CPU is measured. That is the
server's cost of N viewers running the models on their own devices; with N headless browsers on the same 2 cores
as the server, the server's share also pays for the contention.

Needs Debian's chromium and chromium-driver, and Linux (/proc). Targets (issue 19), one viewer: browser mode >= 28
analysed frames/s, first result within 3 s, <= 1 server CPU second per 15 s and no image request; 8 viewers in
browser mode keep the server under 10% of one core.
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
import urllib.request
from pathlib import Path

import numpy as np
from common import PHOTOS
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from support.web import letterbox, serving, start_chromium, write_y4m

PHOTO = PHOTOS / "images" / "deepface_img1.jpg"
RECORD_REQUESTS = """window.sent = [];
const realFetch = window.fetch;
window.fetch = (url, options = {}) => {
  window.sent.push({url: String(url), text: options.body == null || typeof options.body === 'string'});
  return realFetch(url, options);
};"""
"""Runs before the page's scripts: every fetch is recorded, with whether its body is text (or absent)."""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_root() -> int:
    """The ``emolens serve`` process this script started."""
    for pid in descendants(os.getpid())[1:]:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"serve" in cmdline:
            return pid
    raise RuntimeError("emolens serve not found")


def open_live(driver: Chrome, url: str, mode: str, width: str) -> None:
    driver.get(f"{url}/live")
    Select(driver.find_element(By.ID, "mode")).select_by_value(mode)
    Select(driver.find_element(By.ID, "width")).select_by_value(width)


def first_result(driver: Chrome) -> float:
    """Press Start; seconds until the page shows a face."""
    started = time.monotonic()
    driver.find_element(By.ID, "start").click()
    WebDriverWait(driver, 60, poll_frequency=0.02).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    return time.monotonic() - started


def shown_fps(driver: Chrome) -> float:
    """The analysed frames/s the page shows ("–" under one result in 2 s: 0)."""
    text = driver.find_element(By.ID, "fps").text
    return float(text) if text.replace(".", "").isdigit() else 0.0


def measure(url: str, drivers: list[Chrome], mode: str, seconds: int, width: str) -> dict[str, float]:
    """One run of ``mode`` on every viewer at once: frames/s per viewer (the mean over viewers, sampled each
    second), the first viewer's time to its first result, the server's CPU and the image requests of all."""
    for driver in drivers:  # warm the HTTP cache and the camera: a first session, stopped
        open_live(driver, url, mode, width)
        first_result(driver)
        driver.find_element(By.ID, "stop").click()
    for driver in drivers:
        open_live(driver, url, mode, width)
    first = [first_result(driver) for driver in drivers]
    server = descendants(server_root())
    time.sleep(2)  # the rate display covers the last 2 s
    cpu_before = cpu_seconds(server)
    samples, latency = [], []
    for _ in range(seconds):
        time.sleep(1)
        samples.append(statistics.fmean(shown_fps(driver) for driver in drivers))
        latency.append(float(drivers[0].find_element(By.ID, "latency").text.split()[0]))
    cpu = cpu_seconds(server) - cpu_before
    images = 0
    for driver in drivers:
        driver.find_element(By.ID, "stop").click()
        images += sum(not r["text"] for r in driver.execute_script("return window.sent"))
    return {"fps": statistics.median(samples), "fps_min": min(samples), "first_s": first[0], "cpu_s": cpu,
            "images": images, "ms": statistics.median(latency)}


def results_only(url: str, viewers: int, seconds: int) -> float:
    """Server CPU seconds while ``viewers`` clients post browser-mode results for ``seconds`` (see the module
    docs)."""
    with urllib.request.urlopen(f"{url}/api/v1/model") as response:
        labels = json.load(response)["labels"]
    scores = {label: 0.5 if i == 0 else 0.5 / (len(labels) - 1) for i, label in enumerate(labels)}
    host, port = url.removeprefix("http://").rsplit(":", 1)

    def viewer(index: int) -> None:
        body = json.dumps({"session": f"live-results-only-{index}", "frames": 60, "elapsed_ms": 30.0,
                           "faces": [{"emotion": labels[0], "scores": scores}] * 60, "class_balance": None})
        connection = http.client.HTTPConnection(host, int(port))
        for _ in range(seconds // 2):
            started = time.monotonic()
            connection.request("POST", "/api/v1/live/results", body, {"Content-Type": "application/json"})
            if connection.getresponse().read() and started + 2 > time.monotonic():
                time.sleep(started + 2 - time.monotonic())
        connection.close()

    server = descendants(server_root())
    cpu_before = cpu_seconds(server)
    clients = [threading.Thread(target=viewer, args=(i,)) for i in range(viewers)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    return cpu_seconds(server) - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["browser", "server", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--viewers", type=int, default=1, help="headless browsers watching at once")
    parser.add_argument("--width", choices=["320", "480", "640"], default="320",
                        help="frame width analysed (the page's default: 320)")
    parser.add_argument("--results-only", type=int, metavar="N", default=0,
                        help="no browsers: N clients post browser-mode results (see the module docs)")
    args = parser.parse_args()
    if args.results_only:
        with serving() as url:
            cpu = results_only(url, args.results_only, args.seconds)
        print(f"results only, {args.results_only} viewer(s), {args.seconds} s: server CPU {cpu:.2f} s "
              f"({100 * cpu / args.seconds:.1f}% of one core)")
        return
    modes = ["browser", "server"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory() as tmp, serving() as url:
        frame = letterbox(PHOTO)
        video = Path(tmp) / "camera.y4m"
        write_y4m(video, [np.roll(frame, 2 * i, axis=1) for i in range(30)], fps=30)
        drivers = [start_chromium(Path(tmp) / f"viewer{i}", video) for i in range(args.viewers)]
        try:
            for driver in drivers:
                driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_REQUESTS})
            for mode in modes:
                r = measure(url, drivers, mode, args.seconds, args.width)
                print(f"{mode} mode, {args.viewers} viewer(s), {args.width}px frames, {args.seconds} s: "
                      f"{r['fps']:.1f} analysed frames/s per viewer (median; min {r['fps_min']:.1f}; the first "
                      f"viewer's time per frame {r['ms']:.0f} ms), first result "
                      f"{r['first_s']:.2f} s after Start, server CPU {r['cpu_s']:.2f} s "
                      f"({100 * r['cpu_s'] / args.seconds:.1f}% of one core), {r['images']} requests carrying an image")
        finally:
            for driver in drivers:
                driver.quit()
        with urllib.request.urlopen(f"{url}/api/v1/stats?source=webcam") as response:
            totals = json.load(response)["totals"]
        print(f"server stored {totals['frames']} webcam frames, {totals['faces']} faces")


if __name__ == "__main__":
    main()
