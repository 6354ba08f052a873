"""Settings where a user looks for them, and a history of what was analysed, in real Chromium, on a server that
keeps thumbnails and lets requests choose the Haar detector besides its default."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait
from support.web import no_console_errors, serving, set_viewport

pytestmark = pytest.mark.slow
GROUP = "facenet_multiface.jpg"
"""A photo of six people."""
PAGE = 20


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``emolens serve`` keeping thumbnails, with Haar allowed besides the default detector."""
    with serving(env={"EMOLENS_LIVE_WINDOW_S": "2", "EMOLENS_STORE_THUMBNAILS": "true",
                      "EMOLENS_ALLOWED_DETECTORS": "haar"}) as url:
        yield url


def analyses(server: str, **params: str) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"since": "0", "limit": "200", **params}.items())
    with urllib.request.urlopen(f"{server}/api/v1/analyses?{query}") as response:
        return json.load(response)


def upload(browser: Chrome, *files: Path) -> list:
    browser.find_element(By.ID, "files").send_keys("\n".join(str(f) for f in files))
    WebDriverWait(browser, 120).until(lambda d: len(d.find_elements(
        By.CSS_SELECTOR, ".result[data-state='done'], .result[data-state='error']")) == len(files))
    return browser.find_elements(By.CSS_SELECTOR, ".result")


def detectors(browser: Chrome) -> list[str]:
    select = browser.find_element(By.ID, "detector")
    WebDriverWait(browser, 10).until(lambda _: select.find_elements(By.TAG_NAME, "option"))
    return [o.get_attribute("value") for o in select.find_elements(By.TAG_NAME, "option")]


def fresh(browser: Chrome, url: str) -> None:
    """Open ``url`` with this browser's remembered settings forgotten (each test starts from the defaults)."""
    browser.get(url)
    browser.execute_script("localStorage.clear()")
    browser.refresh()


def test_upload_settings_offer_the_allowed_detectors_and_apply(server: str, browser: Chrome,
                                                               photos_dir: Path) -> None:
    set_viewport(browser, 1366, 900)
    fresh(browser, f"{server}/")
    assert detectors(browser) == ["blazeface-multi", "haar"]
    score = browser.find_element(By.ID, "min-score")
    assert browser.find_element(By.ID, "min-score-value").text == "any"
    score.send_keys(*[Keys.RIGHT] * 17)  # by keyboard, 0.05 a step
    assert browser.find_element(By.ID, "min-score-value").text == "0.85"
    [card] = upload(browser, photos_dir / GROUP)
    summary = card.find_element(By.CSS_SELECTOR, ".summary").text
    assert summary.startswith("5 faces") and "blazeface-multi" in summary  # the least sure face (0.75) left out
    browser.refresh()  # the choices are remembered
    assert browser.find_element(By.ID, "min-score-value").text == "0.85"
    Select(browser.find_element(By.ID, "detector")).select_by_value("haar")
    browser.find_element(By.ID, "min-score").send_keys(Keys.HOME)
    browser.find_element(By.ID, "tta").click()
    [card] = upload(browser, photos_dir / GROUP)
    assert " haar " in card.find_element(By.CSS_SELECTOR, ".summary").text
    newest = analyses(server, source="upload")["items"][0]
    assert newest["detector"] == "haar" and newest["tta"] and newest["filename"] == GROUP
    no_console_errors(browser)


def live_session(browser: Chrome, server: str, detector: str | None = None) -> None:
    """A few seconds of the fake camera on the Live page, with ``detector`` chosen (in server mode: the browser
    runs its own detector)."""
    fresh(browser, f"{server}/live")
    if detector:
        Select(browser.find_element(By.ID, "mode")).select_by_value("server")
        WebDriverWait(browser, 10).until(lambda d: detector in detectors(d))
        Select(browser.find_element(By.ID, "detector")).select_by_value(detector)
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "nfaces").text not in ("", "–", "0"))
    browser.find_element(By.ID, "stop").click()


def test_live_settings_choose_the_detector(server: str, browser: Chrome) -> None:
    live_session(browser, server, "haar")
    assert detectors(browser) == ["blazeface-multi", "haar"]
    session = browser.find_element(By.CSS_SELECTOR, "#status a").get_attribute("href").rpartition("session=")[2]
    windows = analyses(server, session=session)["items"]
    assert windows and {w["detector"] for w in windows} == {"haar"}
    no_console_errors(browser)


def test_live_settings_only_the_server_applies_are_off_in_browser_mode(server: str, browser: Chrome) -> None:
    """The browser runs blazeface-short without augmentation: in browser mode the detector and TTA controls are
    disabled and the hint says why; server mode gives them back."""
    fresh(browser, f"{server}/live")
    WebDriverWait(browser, 10).until(lambda d: "haar" in detectors(d))
    controls = [browser.find_element(By.ID, name) for name in ("detector", "tta")]
    hint = browser.find_element(By.ID, "server-only-hint")
    assert Select(browser.find_element(By.ID, "mode")).first_selected_option.get_attribute("value") == "browser"
    assert not any(c.is_enabled() for c in controls) and hint.is_displayed()
    Select(browser.find_element(By.ID, "mode")).select_by_value("server")
    assert all(c.is_enabled() for c in controls) and not hint.is_displayed()
    no_console_errors(browser)


def rows(browser: Chrome) -> list:
    return browser.find_elements(By.CSS_SELECTOR, "#history tbody tr:not(.detail)")


def column(browser: Chrome, name: str) -> list[str]:
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#history thead th") if th.is_displayed()]
    index = headers.index(name)
    return [r.find_elements(By.TAG_NAME, "td")[index].text for r in rows(browser)]


def test_history_pages_filters_and_opens_results_with_thumbnails(server: str, browser: Chrome,
                                                                 photos_dir: Path) -> None:
    set_viewport(browser, 1366, 900)
    fresh(browser, f"{server}/")
    upload(browser, *sorted(photos_dir.glob("deepface_img*.jpg"))[:PAGE])
    live_session(browser, server)
    stored = analyses(server)["items"]  # newest first
    assert len(stored) > PAGE
    browser.find_element(By.LINK_TEXT, "History").click()
    WebDriverWait(browser, 10).until(lambda d: len(rows(d)) == PAGE)
    assert browser.find_element(By.ID, "page").text == f"1–{PAGE} of {len(stored)}"
    assert column(browser, "File") == [s["filename"] or "live window" for s in stored[:PAGE]]
    thumbs = browser.find_elements(By.CSS_SELECTOR, "#history tbody img.thumb")
    assert len(thumbs) == sum(s["source"] == "upload" for s in stored[:PAGE]) > 0
    WebDriverWait(browser, 10).until(lambda d: all(d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", t) for t in thumbs))
    assert all(0 < browser.execute_script("return Math.max(arguments[0].naturalWidth, arguments[0].naturalHeight)",
                                          t) <= 160 for t in thumbs)
    target = next(s for s in stored if s["source"] == "upload")
    row = browser.find_element(By.CSS_SELECTOR, f"#history tr[data-analysis='{target['id']}']")
    row.find_element(By.TAG_NAME, "button").click()  # opens the stored result, face by face
    detail = browser.find_element(By.CSS_SELECTOR, "#history tr.detail")
    assert len(detail.find_elements(By.CSS_SELECTOR, ".detail-faces li")) == target["faces"] > 0
    assert detail.find_element(By.CSS_SELECTOR, "img.stored").get_attribute("alt") == \
        f"Thumbnail of {target['filename']}"
    assert browser.switch_to.active_element.get_attribute("aria-expanded") == "true"
    assert browser.find_element(By.ID, "prev").get_property("disabled")
    browser.find_element(By.ID, "next").click()
    WebDriverWait(browser, 10).until(lambda d: column(d, "File") == [s["filename"] or "live window"
                                                                     for s in stored[PAGE:2 * PAGE]])
    assert not browser.find_element(By.ID, "prev").get_property("disabled")

    windows = [s for s in stored if s["source"] == "webcam"]
    Select(browser.find_element(By.ID, "source")).select_by_value("webcam")
    WebDriverWait(browser, 10).until(lambda d: column(d, "Source") == ["webcam"] * len(windows))
    Select(browser.find_element(By.ID, "source")).select_by_value("")
    session = windows[0]["session"]
    Select(browser.find_element(By.ID, "session")).select_by_value(session)
    WebDriverWait(browser, 10).until(lambda d: column(d, "Session") == [session] * sum(
        w["session"] == session for w in windows))
    browser.get(f"{server}/history?source=api")  # filters from the address; none match
    status = browser.find_element(By.ID, "status")
    WebDriverWait(browser, 10).until(lambda _: status.text == "No analysis matches these filters.")
    assert not rows(browser) and not browser.find_element(By.ID, "empty").is_displayed()
    no_console_errors(browser)


def test_history_without_thumbnails_says_so_and_points_to_upload_and_live(browser: Chrome) -> None:
    with serving() as url:  # an empty database, thumbnails off
        browser.get(f"{url}/history")
        empty = browser.find_element(By.ID, "empty")
        WebDriverWait(browser, 10).until(lambda _: empty.is_displayed())
        links = {a.get_attribute("href").removeprefix(url) for a in empty.find_elements(By.TAG_NAME, "a")}
        assert links == {"/", "/live"}
        assert "EMOLENS_STORE_THUMBNAILS" in browser.find_element(By.ID, "thumbs-off").text
        no_console_errors(browser)


def test_dashboard_and_history_show_the_file_name(server: str, browser: Chrome, face_photo: Path,
                                                  tmp_path: Path) -> None:
    named = tmp_path / f"Ümit's birthday — {'very ' * 12}long name (1).jpg"
    named.write_bytes(face_photo.read_bytes())
    fresh(browser, f"{server}/")
    upload(browser, named)
    newest = analyses(server)["items"][0]
    assert newest["filename"] == named.name
    for page, table in (("dashboard", "recent"), ("history", "history")):
        browser.get(f"{server}/{page}")
        cell = WebDriverWait(browser, 10).until(lambda d, table=table: d.find_element(
            By.CSS_SELECTOR, f"#{table} tr[data-analysis='{newest['id']}'] td.file"))
        assert cell.get_attribute("title") == named.name  # the whole name, where the cell cuts it
        assert cell.text == named.name and cell.find_element(By.TAG_NAME, "span").size["width"] <= 16 * 16 + 1
    no_console_errors(browser)
