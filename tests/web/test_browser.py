"""Real browser tests: headless Debian Chromium, driven by Selenium, against ``emolens serve`` on localhost.
The live page gets Chromium's fake camera, fed a Y4M video made from a real photo at test time.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.slow
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> None:
    """Raw 4:2:0 video in the YUV4MPEG2 format that Chromium's fake camera reads."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``emolens serve`` on a free localhost port, with its own data folder."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "EMOLENS_DATA_DIR": str(tmp_path_factory.mktemp("data")), "EMOLENS_LIVE_WINDOW_S": "2"}
    process = subprocess.Popen([sys.executable, "-c", "from emolens.cli.main import cli; cli()", "serve",
                                "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("emolens serve did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str], face_jpeg: bytes,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    folder = tmp_path_factory.mktemp("chromium")
    frame = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
    video = folder / "camera.y4m"
    write_y4m(video, [np.roll(frame, shift, axis=1) for shift in range(0, 30, 2)])
    options = webdriver.ChromeOptions()
    options.binary_location = chromium[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1280,1500", f"--user-data-dir={folder / 'profile'}",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={video}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromium[1]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def no_console_errors(driver: webdriver.Chrome) -> None:
    """No JavaScript errors or Content-Security-Policy violations on the page."""
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def test_upload_shows_face_box_and_emotion(server: str, browser: webdriver.Chrome, face_photo: Path) -> None:
    browser.get(f"{server}/")
    browser.find_element(By.ID, "files").send_keys(str(face_photo))
    card = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".result[data-state='done'], .result[data-state='error']"))
    assert card.get_attribute("data-state") == "done", card.text
    emotion = card.find_element(By.CSS_SELECTOR, ".face .emotion").text
    assert emotion.split()[0] in json.loads(browser.find_element(By.TAG_NAME, "body").get_attribute("data-labels"))
    assert "1 face" in card.find_element(By.TAG_NAME, "canvas").get_attribute("aria-label")
    assert len(card.find_elements(By.CSS_SELECTOR, ".face .bar")) >= 2
    browser.save_screenshot(str(SCREENSHOTS / "upload.png"))
    no_console_errors(browser)


def test_live_page_shows_face_from_fake_camera(server: str, browser: webdriver.Chrome) -> None:
    browser.get(f"{server}/live")
    assert "not stored" in browser.find_element(By.ID, "privacy").text
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    top = browser.find_element(By.ID, "top").text
    assert top and top != "no face"
    time.sleep(2)
    fps = float(browser.find_element(By.ID, "fps").text)
    assert fps > 0
    browser.save_screenshot(str(SCREENSHOTS / "live.png"))
    browser.find_element(By.ID, "stop").click()
    no_console_errors(browser)


def test_dashboard_shows_the_analyses_just_made(server: str, browser: webdriver.Chrome) -> None:
    """Runs after the upload and live tests above, and finds what they stored."""
    browser.get(f"{server}/dashboard")
    WebDriverWait(browser, 15).until(lambda d: {"upload", "webcam"} <= {
        cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#recent tbody td:nth-child(3)")})
    assert int(browser.find_element(By.ID, "t-faces").text) >= 2
    time.sleep(0.5)  # let the charts finish drawing
    browser.save_screenshot(str(SCREENSHOTS / "dashboard.png"))
    no_console_errors(browser)
