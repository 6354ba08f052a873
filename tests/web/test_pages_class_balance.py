"""The class balance on the pages, in real Chromium: the upload and live pages offer it in words, an upload made
with it says so and is stored with it, and the dashboard says when its figures mix balances."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from support.web import no_console_errors

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("page", ["/", "/live"])
def test_pages_offer_the_class_balance_in_words(server: str, browser: Chrome, page: str) -> None:
    browser.get(f"{server}{page}")
    slider = browser.find_element(By.ID, "class-balance")
    WebDriverWait(browser, 10).until(lambda _: slider.get_attribute("max") == "4")  # the five stored balances
    assert browser.find_element(By.ID, "class-balance-group").is_displayed()
    shown = browser.find_element(By.ID, "class-balance-value")
    assert shown.text == "in between (0.5, default)" and slider.get_attribute("aria-valuetext") == shown.text
    slider.send_keys(Keys.HOME)
    assert shown.text == "everyday faces, mostly neutral (0)"
    slider.send_keys(Keys.END)
    assert shown.text == "expressive faces, all emotions equally likely (1)"
    assert "everyday faces, mostly neutral" in browser.find_element(By.ID, "class-balance-hint").text
    slider.send_keys(Keys.HOME, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # back to the default for the next test
    no_console_errors(browser)


def test_an_upload_with_another_balance_says_so_and_is_stored_with_it(server: str, browser: Chrome,
                                                                       face_photo: Path, store) -> None:
    browser.get(f"{server}/")
    slider = browser.find_element(By.ID, "class-balance")
    WebDriverWait(browser, 10).until(lambda _: slider.get_attribute("max") == "4")
    slider.send_keys(Keys.END)
    browser.find_element(By.ID, "files").send_keys(str(face_photo))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".result[data-state='done']"))
    assert "class balance 1 " in browser.find_element(By.CSS_SELECTOR, ".result .summary").text
    with urllib.request.urlopen(f"{server}/api/v1/analyses?limit=1") as response:
        assert json.load(response)["items"][0]["class_balance"] == 1.0
    slider.send_keys(Keys.HOME, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # the browser remembers: back to the default
    store(server, face_photo.read_bytes(), "source=upload")  # one at the default balance too
    browser.get(f"{server}/dashboard")
    mix = browser.find_element(By.ID, "balance-mix")
    WebDriverWait(browser, 20).until(lambda _: mix.is_displayed())
    assert "mix faces scored with different class balances (0.5, 1)" in mix.text
    choice = browser.find_element(By.ID, "class-balance-filter")
    assert {o.get_attribute("value") for o in choice.find_elements(By.TAG_NAME, "option")} >= {"", "0.5", "1"}
    choice.find_element(By.CSS_SELECTOR, "option[value='1']").click()
    WebDriverWait(browser, 20).until(lambda _: not mix.is_displayed())
    no_console_errors(browser)
