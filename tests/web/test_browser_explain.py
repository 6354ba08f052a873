"""The upload page's "Why this emotion?" toggle, in headless Chromium: the grid is drawn over the face."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from support.web import serving

pytestmark = pytest.mark.slow

REDNESS = """
const canvas = arguments[0];
const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let red = 0;
for (let i = 0; i < d.length; i += 4) red += d[i] - (d[i + 1] + d[i + 2]) / 2;
return red / (d.length / 4);
"""


def upload(browser: Chrome, photo: Path, explain: bool) -> float:
    """Upload ``photo`` with the toggle set; the mean redness (red minus the mean of green and blue) of the
    result canvas."""
    toggle = browser.find_element(By.ID, "explain")
    if toggle.is_selected() != explain:
        toggle.click()
    before = len(browser.find_elements(By.CSS_SELECTOR, ".result"))
    browser.find_element(By.ID, "files").send_keys(str(photo))
    WebDriverWait(browser, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result[data-state='done']")) > before)
    card = browser.find_elements(By.CSS_SELECTOR, ".result")[-1]  # results are listed in upload order
    return browser.execute_script(REDNESS, card.find_element(By.TAG_NAME, "canvas"))


def test_explain_toggle_draws_the_grid_over_the_face(browser: Chrome, face_photo: Path) -> None:
    with serving() as url:
        browser.get(f"{url}/")
        plain = upload(browser, face_photo, explain=False)
        explained = upload(browser, face_photo, explain=True)
    assert explained > plain + 2, (plain, explained)  # the face covers about a fifth of the photo
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
