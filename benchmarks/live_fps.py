"""Analysed frames per second of the live page: headless Chromium with a fake camera (a Y4M video made from a
real photo) on /live, against ``emolens serve`` on localhost. Prints the page's own FPS and round-trip figures
and the server's count of webcam frames.

    python benchmarks/live_fps.py [--seconds 15] [--width 320]

Needs Debian's chromium and chromium-driver. Target: >= 20 analysed frames/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from webserver import face_jpeg, serving

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--width", choices=["320", "480", "640"], default="320", help="frame width the page sends")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving() as url:
        frame = cv2.imdecode(np.frombuffer(face_jpeg(), np.uint8), cv2.IMREAD_COLOR)
        video = Path(tmp) / "camera.y4m"
        with video.open("wb") as out:
            out.write(b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n")
            for shift in range(0, 60, 2):
                out.write(b"FRAME\n" + cv2.cvtColor(np.roll(frame, shift, axis=1), cv2.COLOR_BGR2YUV_I420).tobytes())
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in (*FLAGS, f"--use-file-for-fake-video-capture={video}", f"--user-data-dir={tmp}/profile"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))
        try:
            driver.get(f"{url}/live")
            Select(driver.find_element(By.ID, "width")).select_by_value(args.width)
            driver.find_element(By.ID, "start").click()
            time.sleep(3)  # camera start and warm-up
            samples = []
            for _ in range(int(args.seconds)):
                time.sleep(1)
                samples.append(float(driver.find_element(By.ID, "fps").text or 0))
            latency = driver.find_element(By.ID, "latency").text
            driver.find_element(By.ID, "stop").click()
        finally:
            driver.quit()
        with urllib.request.urlopen(f"{url}/api/v1/stats?source=webcam") as response:
            frames = json.load(response)["totals"]["frames"]
    print(f"live page, {args.width}px frames, {args.seconds:g} s measured: "
          f"{np.mean(samples):.1f} analysed frames/s (min {min(samples):.1f}), last round trip {latency}, "
          f"server counted {frames} webcam frames")


if __name__ == "__main__":
    main()
