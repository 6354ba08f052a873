"""Real browser tests: headless Debian Chromium, driven by Selenium, against ``emolens serve`` on localhost.
The live page gets Chromium's fake camera, fed a Y4M video made from a real photo at test time.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from emolens.web.testing import no_console_errors

pytestmark = pytest.mark.slow


def test_upload_shows_face_box_and_emotion(server: str, browser: Chrome, face_photo: Path, screenshots: Path) -> None:
    browser.get(f"{server}/")
    browser.find_element(By.ID, "files").send_keys(str(face_photo))
    card = WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".result[data-state='done'], .result[data-state='error']"))
    assert card.get_attribute("data-state") == "done", card.text
    emotion = card.find_element(By.CSS_SELECTOR, ".face .emotion").text
    assert emotion.split()[0] in json.loads(browser.find_element(By.TAG_NAME, "body").get_attribute("data-labels"))
    assert "1 face" in card.find_element(By.TAG_NAME, "canvas").get_attribute("aria-label")
    assert len(card.find_elements(By.CSS_SELECTOR, ".face .bar")) >= 2
    browser.save_screenshot(str(screenshots / "upload.png"))
    no_console_errors(browser)


def test_live_page_shows_face_from_fake_camera(server: str, browser: Chrome, screenshots: Path) -> None:
    browser.get(f"{server}/live")
    assert "not stored" in browser.find_element(By.ID, "privacy").text
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    top = browser.find_element(By.ID, "top").text
    assert top and top != "no face"
    drawn = browser.execute_script("const c = document.getElementById('overlay');"
                                   "const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                   "let n = 0; for (let i = 3; i < a.length; i += 4) n += a[i] > 0; return n;")
    assert drawn > 100  # the box and label over the video
    time.sleep(2)
    assert float(browser.find_element(By.ID, "fps").text) > 0
    browser.save_screenshot(str(screenshots / "live.png"))
    browser.find_element(By.ID, "stop").click()
    no_console_errors(browser)


def test_dashboard_shows_the_analyses_just_made(server: str, browser: Chrome, screenshots: Path) -> None:
    """Runs after the upload and live tests above, and finds what they stored."""
    browser.get(f"{server}/dashboard")
    WebDriverWait(browser, 15).until(lambda d: {"upload", "webcam"} <= {
        cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#recent tbody td:nth-child(3)")})
    assert int(browser.find_element(By.ID, "t-faces").text) >= 1  # photos
    assert int(browser.find_element(By.ID, "t-live-faces").text) >= 1  # live, apart
    assert "Photos: " in browser.find_element(By.ID, "chart-dist").get_attribute("aria-label")
    time.sleep(0.5)  # let the charts finish drawing
    browser.save_screenshot(str(screenshots / "dashboard.png"))
    no_console_errors(browser)
