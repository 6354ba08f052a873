"""Accessibility of the four pages in real Chromium: axe-core finds no WCAG 2.2 A/AA violation on a desktop
and a phone viewport, dark and light, with results on screen; screenshots of each go to
test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from support.web import axe_violations, no_console_errors, serving, set_viewport

pytestmark = pytest.mark.slow
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
GROUP = "facenet_multiface.jpg"
"""A photo of six people."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``emolens serve`` keeping thumbnails, so that the history page shows them."""
    with serving(env={"EMOLENS_STORE_THUMBNAILS": "true"}) as url:
        yield url


def show_results(browser: Chrome, photo: Path) -> None:
    browser.find_element(By.ID, "files").send_keys(str(photo))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".result[data-state='done']"))


def start_camera(browser: Chrome) -> None:
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "nfaces").text not in ("", "–"))


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", ["upload", "live", "dashboard", "history"])
def test_pages_have_no_wcag_aa_violations(server: str, browser: Chrome, photos_dir: Path, axe_js: str,
                                          screenshots: Path, page: str, size: str, theme: str) -> None:
    set_viewport(browser, *SIZES[size], light=theme == "light")
    browser.get(f"{server}{ {'upload': '/', 'live': '/live', 'dashboard': '/dashboard', 'history': '/'}[page] }")
    if page in ("upload", "history"):
        show_results(browser, photos_dir / GROUP)
    if page == "history":  # with a result opened
        browser.get(f"{server}/history")
        WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#history tbody button"))
        browser.find_element(By.CSS_SELECTOR, "#history tbody button").click()
    elif page == "live":
        start_camera(browser)
    elif page == "dashboard":
        # the whole load drawn: the status says so after the totals, charts and table
        WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "status").text.startswith("Updated"))
    violations = axe_violations(browser, axe_js)
    browser.save_screenshot(str(screenshots / f"{page}-{size}-{theme}.png"))
    if page == "live":
        browser.find_element(By.ID, "stop").click()
    assert not violations, violations
    no_console_errors(browser)


def test_reduced_motion_stops_transitions(server: str, browser: Chrome) -> None:
    browser.get(f"{server}/")
    duration = "return getComputedStyle(document.getElementById('dropzone')).transitionDuration"
    assert browser.execute_script(duration) != "0s"
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    assert set(browser.execute_script(duration).split(", ")) == {"0s"}
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_results_work_from_the_keyboard(server: str, browser: Chrome, photos_dir: Path) -> None:
    set_viewport(browser, 1366, 900)
    browser.get(f"{server}/")
    show_results(browser, photos_dir / GROUP)
    badge = browser.find_element(By.CSS_SELECTOR, ".badge[data-face='2']")
    badge.send_keys(Keys.ENTER)  # a badge opens its entry and moves the focus there
    entry = browser.find_element(By.CSS_SELECTOR, ".face[data-face='2']")
    assert entry.find_element(By.TAG_NAME, "details").get_attribute("open")
    assert browser.switch_to.active_element == entry.find_element(By.TAG_NAME, "summary")
    browser.switch_to.active_element.send_keys(Keys.ENTER)  # and Enter closes it again
    assert not entry.find_element(By.TAG_NAME, "details").get_attribute("open")
    zoom = browser.find_element(By.CSS_SELECTOR, ".result .zoom")
    zoom.send_keys(Keys.SPACE)
    assert zoom.get_attribute("aria-pressed") == "true"
