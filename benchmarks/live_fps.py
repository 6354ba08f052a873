"""Analysed frames per second of the live page: headless Chromium with a fake camera (a Y4M video made from a
real photo) on /live, against ``emolens serve`` on localhost. Prints the page's own FPS and round-trip figures
and the server's count of webcam frames.

    python benchmarks/live_fps.py [--seconds 15] [--width 320]

Needs Debian's chromium and chromium-driver. Target: >= 20 analysed frames/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from common import PHOTOS
from support.web import camera_video, serving, start_chromium

PHOTO = PHOTOS / "images" / "deepface_img1.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--width", choices=["320", "480", "640"], default="320", help="frame width the page sends")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving() as url:
        driver = start_chromium(Path(tmp), camera_video(Path(tmp) / "camera.y4m", PHOTO, frames=30))
        try:
            driver.get(f"{url}/live")
            Select(driver.find_element(By.ID, "width")).select_by_value(args.width)
            driver.find_element(By.ID, "start").click()
            time.sleep(3)  # camera start and warm-up
            samples = []
            for _ in range(args.seconds):
                time.sleep(1)
                samples.append(float(driver.find_element(By.ID, "fps").text or 0))
            latency = driver.find_element(By.ID, "latency").text
            driver.find_element(By.ID, "stop").click()
        finally:
            driver.quit()
        with urllib.request.urlopen(f"{url}/api/v1/stats?source=webcam") as response:
            frames = json.load(response)["totals"]["frames"]
    print(f"live page, {args.width}px frames, {args.seconds} s measured: {statistics.fmean(samples):.1f} analysed "
          f"frames/s (min {min(samples):.1f}), last round trip {latency}, server counted {frames} webcam frames")


if __name__ == "__main__":
    main()
