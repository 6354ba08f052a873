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
from selenium.webdriver.support.ui import Select, WebDriverWait
from support.web import no_console_errors

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
    # the rate shows once two frames are analysed ("–" before)
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "fps").text.replace(".", "", 1).isdigit())
    assert float(browser.find_element(By.ID, "fps").text) > 0
    browser.save_screenshot(str(screenshots / "live.png"))
    browser.find_element(By.ID, "stop").click()
    no_console_errors(browser)


@pytest.fixture()
def seeded(server: str, face_jpeg: bytes, store) -> str:
    """``server`` holding one uploaded photo and one live window of two frames, stored by this fixture."""
    for query in ("source=upload", "source=webcam&session=seeded", "source=webcam&session=seeded"):
        store(server, face_jpeg, query)
    return server


def test_dashboard_shows_stored_photos_and_live_windows(seeded: str, browser: Chrome, screenshots: Path) -> None:
    browser.get(f"{seeded}/dashboard")
    WebDriverWait(browser, 15).until(lambda d: {"upload", "webcam"} <= {
        cell.text for cell in d.find_elements(By.CSS_SELECTOR, "#recent tbody td:nth-child(3)")})
    assert int(browser.find_element(By.ID, "t-faces").text) >= 1  # photos
    assert int(browser.find_element(By.ID, "t-live-faces").text) >= 2  # live, apart: both frames' faces
    assert "Photos: " in browser.find_element(By.ID, "chart-dist").get_attribute("aria-label")
    time.sleep(0.5)  # let the charts finish drawing
    browser.save_screenshot(str(screenshots / "dashboard.png"))
    no_console_errors(browser)


SLOW_STATS = """window.polls = {started: 0, inflight: 0};
window.holdStats = true;
window.tabHidden = false;
for (const [name, value] of [["hidden", () => window.tabHidden],
                             ["visibilityState", () => (window.tabHidden ? "hidden" : "visible")]]) {
  Object.defineProperty(document, name, {get: value, configurable: true});
}
const realFetch = window.fetch;
window.fetch = async (url, options) => {
  if (!String(url).includes("/api/v1/stats")) return realFetch(url, options);
  polls.started++;
  polls.inflight++;
  try {
    while (window.holdStats) await new Promise((resolve) => setTimeout(resolve, 50));
    return await realFetch(url, options);
  } finally {
    polls.inflight--;
  }
};"""
"""Runs before the page's scripts: /api/v1/stats answers are held while ``holdStats``, requests are counted, and
the tab is hidden while ``tabHidden``."""


def test_dashboard_polls_only_when_idle_and_visible(server: str, browser: Chrome) -> None:
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": SLOW_STATS})
    try:
        browser.get(f"{server}/dashboard")
        polls = lambda: browser.execute_script("return window.polls")  # noqa: E731
        WebDriverWait(browser, 10).until(lambda d: polls()["started"] == 1)
        time.sleep(6)  # a poll is due after 5 s: skipped, the first load is still in flight
        assert polls() == {"started": 1, "inflight": 1}
        Select(browser.find_element(By.ID, "source")).select_by_value("upload")  # the user's change waits...
        assert polls()["started"] == 1
        browser.execute_script("window.holdStats = false")  # ...and runs as soon as the first load is done,
        WebDriverWait(browser, 2).until(lambda d: polls() == {"started": 2, "inflight": 0})  # not at the next poll
        browser.execute_script("window.tabHidden = true")
        time.sleep(6)  # hidden: no poll
        assert polls()["started"] == 2
        browser.execute_script("window.tabHidden = false; document.dispatchEvent(new Event('visibilitychange'))")
        WebDriverWait(browser, 10).until(lambda d: polls()["started"] == 3)  # shown again: loads at once
        no_console_errors(browser)
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
