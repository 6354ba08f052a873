"""The pages as a user meets them, in real Chromium: group photos readable, honest upload states, exports whose
content is checked, and a live mode that says when the server is gone and recovers when it is back."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import cv2
import pytest
from selenium.webdriver import ActionChains, Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait
from support.web import no_console_errors, serving, set_viewport

from emolens.pipeline.rows import face_columns

pytestmark = pytest.mark.slow
GROUP = "facenet_multiface.jpg"
"""A photo of six people."""


def upload(browser: Chrome, server: str, *files: Path) -> list:
    """Open the Upload page, give it ``files`` and wait until every card is done or failed."""
    browser.get(f"{server}/")
    browser.find_element(By.ID, "files").send_keys("\n".join(str(f) for f in files))
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(
        By.CSS_SELECTOR, ".result[data-state='done'], .result[data-state='error']")) == len(files))
    return browser.find_elements(By.CSS_SELECTOR, ".result")


def rect(element) -> tuple[float, float, float, float]:
    r = element.rect
    return r["x"], r["y"], r["x"] + r["width"], r["y"] + r["height"]


def downloaded(folder: Path) -> set[str]:
    """The files Chromium has finished downloading into ``folder``: it writes each as ``*.crdownload`` and gives
    it its own name once the file is complete."""
    return {p.name for p in folder.iterdir() if p.suffix != ".crdownload"}


def test_empty_dashboard_points_to_upload_and_live(browser: Chrome) -> None:
    with serving() as fresh:  # an empty database of its own
        browser.get(f"{fresh}/dashboard")
        empty = browser.find_element(By.ID, "empty")
        WebDriverWait(browser, 10).until(lambda _: empty.is_displayed())
        links = {a.get_attribute("href").removeprefix(fresh) for a in empty.find_elements(By.TAG_NAME, "a")}
    assert links == {"/", "/live"}
    assert not browser.find_element(By.ID, "charts").is_displayed()


def test_group_photo_has_separate_numbered_badges_linked_to_the_list(server: str, browser: Chrome,
                                                                     photos_dir: Path) -> None:
    set_viewport(browser, 1366, 900)
    [card] = upload(browser, server, photos_dir / GROUP)
    badges = card.find_elements(By.CSS_SELECTOR, ".figure [data-face]")
    assert [b.get_attribute("data-face") for b in badges] == [str(i) for i in range(1, 7)]
    boxes = [rect(b) for b in badges]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    centres = [(a[0] + a[2]) / 2 for a in boxes]
    assert centres == sorted(centres)  # numbered left to right
    figure = card.find_element(By.CSS_SELECTOR, ".figure").rect
    assert figure["width"] >= 700  # the photo uses the width of a desktop
    entries = card.find_elements(By.CSS_SELECTOR, ".faces .face")
    assert len(entries) == 6 and all(e.find_elements(By.CSS_SELECTOR, "canvas.thumb") for e in entries)
    ActionChains(browser).move_to_element(badges[2]).perform()
    assert "hl" in entries[2].get_attribute("class") and "hl" not in entries[0].get_attribute("class")
    entries[4].find_element(By.TAG_NAME, "summary").send_keys("")  # keyboard focus on an entry
    assert "hl" in badges[4].get_attribute("class")
    assert not entries[0].find_element(By.TAG_NAME, "details").get_attribute("open")
    badges[0].click()  # a badge opens its entry, with the full distribution as spoken meters
    assert entries[0].find_element(By.TAG_NAME, "details").get_attribute("open")
    meters = entries[0].find_elements(By.CSS_SELECTOR, "[role='meter']")
    assert len(meters) == len(json.loads(browser.find_element(By.TAG_NAME, "body").get_attribute("data-labels")))
    assert all(m.get_attribute("aria-valuetext").endswith("%") for m in meters)
    assert "6 faces, left to right: 1." in browser.find_element(By.ID, "status").text
    no_console_errors(browser)


def overlap(a: tuple[float, ...], b: tuple[float, ...], tolerance: float = 0.5) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > tolerance and min(a[3], b[3]) - max(a[1], b[1]) > tolerance


@pytest.mark.parametrize("size", [(390, 844), (1366, 900)], ids=["phone", "desktop"])
def test_badges_sit_beside_small_faces_never_over_them(server: str, browser: Chrome, photos_dir: Path,
                                                       size: tuple[int, int]) -> None:
    """On a phone the six faces of the group photo are about 28 px wide: each badge sits next to its face, covering
    no face and no other badge."""
    set_viewport(browser, *size)
    [card] = upload(browser, server, photos_dir / GROUP)
    canvas = card.find_element(By.CSS_SELECTOR, ".figure canvas")
    left, top = canvas.rect["x"], canvas.rect["y"]
    scale = canvas.rect["width"] / cv2.imread(str(photos_dir / GROUP)).shape[1]
    result = browser.execute_async_script(
        "fetch('/api/v1/analyses?limit=1&source=upload').then(r => r.json())"
        ".then(p => arguments[0](p.items[0].result))")
    boxes = sorted(((left + x * scale, top + y * scale, left + (x + w) * scale, top + (y + h) * scale)
                    for x, y, w, h in (f["box"] for f in result)), key=lambda b: b[0] + b[2])  # numbered so
    badges = [rect(b) for b in card.find_elements(By.CSS_SELECTOR, ".figure .badge")]
    assert len(badges) == len(boxes) == 6
    if size[0] < 600:
        assert max(b[2] - b[0] for b in boxes) < 40  # small faces indeed
    for i, badge in enumerate(badges):
        assert not any(overlap(badge, box) for box in boxes), (i + 1, badge, boxes)
        assert not any(overlap(badge, other) for other in badges[i + 1:]), (i + 1, badge, badges)
        box = boxes[i]  # next to its own face: within a badge's size of its box
        gap = max(box[0] - badge[2], badge[0] - box[2], box[1] - badge[3], badge[1] - box[3])
        assert gap <= badge[2] - badge[0], (i + 1, badge, box)
    set_viewport(browser, 1366, 900)


def test_group_result_is_compact_on_a_phone(server: str, browser: Chrome, photos_dir: Path) -> None:
    set_viewport(browser, 390, 844)
    [card] = upload(browser, server, photos_dir / GROUP)
    assert card.rect["width"] <= 390
    assert card.find_element(By.CSS_SELECTOR, ".faces").rect["height"] < 450  # was about 1,100 px of bars
    set_viewport(browser, 1366, 900)


def test_batch_states_order_summary_retry_and_exports(server: str, browser: Chrome, photos_dir: Path,
                                                      tmp_path: Path) -> None:
    set_viewport(browser, 1366, 900)
    tiff = tmp_path / "face.tiff"
    cv2.imwrite(str(tiff), cv2.imread(str(photos_dir / "deepface_img1.jpg")))
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    files = [photos_dir / GROUP, text, tiff, empty]
    cards = upload(browser, server, *files)
    assert [c.find_element(By.CSS_SELECTOR, ".name").text for c in cards] == [f.name for f in files]
    assert [c.get_attribute("data-state") for c in cards] == ["done", "error", "done", "error"]
    assert "1 face" in cards[2].find_element(By.CSS_SELECTOR, ".summary").text  # TIFF: results, no photo
    assert cards[2].find_element(By.CSS_SELECTOR, ".figure").get_attribute("hidden")
    for failed in (cards[1], cards[3]):
        message = failed.find_element(By.CSS_SELECTOR, ".summary").text
        assert message and "Bearer" not in message and "fetch" not in message.lower()
        assert failed.find_element(By.XPATH, ".//button[text()='Retry']").is_displayed()
    assert browser.find_element(By.ID, "status").text.startswith("Done: 2 of 4 analysed, 2 failed")
    cards[1].find_element(By.XPATH, ".//button[text()='Retry']").click()  # fails again, and says so again
    WebDriverWait(browser, 10).until(lambda _: cards[1].get_attribute("data-state") == "error"
                                     and cards[1].find_elements(By.XPATH, ".//button[text()='Retry']"))
    assert browser.find_element(By.ID, "status").text.startswith("Done: 2 of 4 analysed, 2 failed")

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    cards[0].find_element(By.CSS_SELECTOR, ".dl-csv").click()
    cards[0].find_element(By.CSS_SELECTOR, ".dl-json").click()
    cards[0].find_element(By.CSS_SELECTOR, ".dl-png").click()
    browser.find_element(By.ID, "batch-csv").click()
    names = {"facenet_multiface-emotions.csv", "facenet_multiface-emotions.json", "facenet_multiface-emotions.png",
             "emolens-results.csv"}
    WebDriverWait(browser, 10).until(lambda _: downloaded(downloads) >= names)
    rows = list(csv.DictReader(io.StringIO((downloads / "facenet_multiface-emotions.csv").read_text())))
    labels = json.loads(browser.find_element(By.TAG_NAME, "body").get_attribute("data-labels"))
    assert list(rows[0]) == face_columns(labels)  # the face row of every emolens table, from the server
    assert [r["face"] for r in rows] == [str(i) for i in range(6)]  # the index in the answer, as analyze --csv
    assert all(abs(sum(float(r[label]) for label in labels) - 1) < 1e-3 for r in rows)
    assert all(0 < float(r["detection_score"]) <= 1 and r["class_balance"] == "0.5" for r in rows)
    result = json.loads((downloads / "facenet_multiface-emotions.json").read_text())
    assert result["file"] == GROUP and len(result["faces"]) == 6
    png = cv2.imread(str(downloads / "facenet_multiface-emotions.png"))
    assert png is not None and png.shape[1] >= 1000
    batch = list(csv.DictReader(io.StringIO((downloads / "emolens-results.csv").read_text())))
    assert [r["source"] for r in batch] == [GROUP] * 6 + ["face.tiff"]
    no_console_errors(browser, expected="the server responded with a status of 4")  # 415 and 400: the failed files


def test_page_csv_shows_formula_like_names_as_text_by_the_rule_of_every_emolens_csv(
        server: str, browser: Chrome, photos_dir: Path, tmp_path: Path) -> None:
    from emolens.csvcells import csv_cell

    name = '=HYPERLINK("x","open"),1.jpg'
    (tmp_path / name).write_bytes((photos_dir / "deepface_img1.jpg").read_bytes())
    (card,) = upload(browser, server, tmp_path / name)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    card.find_element(By.CSS_SELECTOR, ".dl-csv").click()
    WebDriverWait(browser, 10).until(lambda _: any(name.endswith(".csv") for name in downloaded(downloads)))
    (row,) = csv.DictReader(io.StringIO(next(downloads.glob("*.csv")).read_text()))
    assert row["source"] == f"'{name}" and row["emotion"] == "happy" and int(row["x"]) > 0
    texts = ["-1-1", "-0.25", "+3", "=1+2", "@x", "\tx", "'=q", "'q", "plain", 'a,"b"', "line\nbreak"]
    face = {"box": [-2, 0, 5, 5], "emotion": "happy", "scores": {"happy": 1}, "detection_score": 0.5,
            "track_id": None}
    written = browser.execute_async_script(
        "const [texts, face, done] = arguments;"
        "import(new URL('export.js', document.querySelector('script[type=module]').src)).then((m) => done("
        "m.csv(texts.map((file) => ({ file, result: { faces: [face], class_balance: 0.25 } })))));", texts, face)
    rows = list(csv.DictReader(io.StringIO(written)))
    assert [r["source"] for r in rows] == [csv_cell(t) for t in texts]  # the rule of Python's CSV writers
    numbers = {"face": "0", "x": "-2", "y": "0", "w": "5", "h": "5", "detection_score": "0.5", "happy": "1",
               "class_balance": "0.25", "emotion": "happy"}  # numbers stay numbers; a missing value is empty
    assert all({k: v for k, v in r.items() if v} == {"source": r["source"], **numbers} for r in rows)


def test_drop_outside_the_zone_keeps_the_page(server: str, browser: Chrome, photos_dir: Path) -> None:
    upload(browser, server, photos_dir / GROUP)
    prevented = browser.execute_script(
        "const dt = new DataTransfer(); dt.items.add(new File(['x'], 'a.jpg', {type: 'image/jpeg'}));"
        "const e = new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true});"
        "document.querySelector('h1').dispatchEvent(e); return e.defaultPrevented;")
    assert prevented
    assert browser.find_elements(By.CSS_SELECTOR, ".result[data-state='done']")


@pytest.mark.parametrize("page", ["/", "/live"])
def test_settings_offer_only_what_the_server_allows(server: str, browser: Chrome, page: str) -> None:
    browser.get(f"{server}{page}")
    select = browser.find_element(By.ID, "detector")
    WebDriverWait(browser, 10).until(lambda _: select.find_elements(By.TAG_NAME, "option"))
    assert [o.get_attribute("value") for o in select.find_elements(By.TAG_NAME, "option")] == ["blazeface-multi"]
    assert not select.is_enabled()  # the default server allows its own detector only
    assert browser.find_element(By.ID, "min-score").get_attribute("max") == "0.95"


def test_phone_says_choose_photos(server: str, browser: Chrome) -> None:
    set_viewport(browser, 390, 844)
    browser.get(f"{server}/")
    assert browser.find_element(By.CSS_SELECTOR, "#dropzone .big").text == "Choose photos"
    set_viewport(browser, 1366, 900)
    browser.get(f"{server}/")
    assert browser.find_element(By.CSS_SELECTOR, "#dropzone .big").text == "Drop photos here"


def test_live_clears_stale_boxes_reconnects_and_resets_on_stop(server: str, browser: Chrome) -> None:
    set_viewport(browser, 1366, 900)
    browser.get(f"{server}/live")
    stage, metrics = browser.find_element(By.ID, "stage").rect, browser.find_element(By.CSS_SELECTOR, ".metrics").rect
    assert metrics["x"] >= stage["x"] + stage["width"] - 1  # side by side on a desktop
    Select(browser.find_element(By.ID, "mode")).select_by_value("server")  # frames go to the server
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    drawn = ("const c = document.getElementById('overlay');"
             "const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
             "let n = 0; for (let i = 3; i < a.length; i += 4) n += a[i] > 0; return n;")
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/v1/analyze*"]})  # the server is gone
    status = browser.find_element(By.ID, "status")
    WebDriverWait(browser, 10).until(lambda _: status.text.startswith("Reconnecting"))
    assert browser.execute_script(drawn) == 0 and browser.find_element(By.ID, "nfaces").text == "–"
    assert "fetch" not in status.text.lower()
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})  # back
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    WebDriverWait(browser, 5).until(lambda _: status.text.startswith("Running"))
    assert "error" not in status.get_attribute("class") and browser.execute_script(drawn) > 100
    browser.find_element(By.ID, "stop").click()
    assert {browser.find_element(By.ID, k).text for k in ("fps", "latency", "nfaces", "top")} == {"–"}
    assert browser.execute_script(drawn) == 0
    summary = status.find_element(By.TAG_NAME, "a").get_attribute("href")
    assert "/dashboard?session=live-" in summary
    browser.execute_cdp_cmd("Network.disable", {})
    no_console_errors(browser)


def test_live_tracks_keep_their_ids_and_the_timeline_fills(server: str, browser: Chrome) -> None:
    browser.get(f"{server}/live")
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    seen = set()
    for _ in range(20):  # the fake camera pans and loops: the same face must keep its id
        seen.add(browser.find_element(By.ID, "top").text.split()[0])
        time.sleep(0.15)
    assert seen == {"#1"}, seen
    painted = browser.execute_script("const c = document.getElementById('timeline');"
                                     "const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                     "let n = 0; for (let i = 3; i < a.length; i += 4) n += a[i] > 0; return n;")
    assert painted > 1000
    assert len(browser.find_elements(By.CSS_SELECTOR, "#legend li")) == len(
        json.loads(browser.find_element(By.TAG_NAME, "body").get_attribute("data-labels")))
    browser.find_element(By.ID, "stop").click()
    no_console_errors(browser)


def test_live_throttles_its_announcements(server: str, browser: Chrome) -> None:
    browser.get(f"{server}/live")
    browser.execute_script(
        "window.changes = 0; new MutationObserver(() => window.changes++).observe("
        "document.getElementById('announce'), {childList: true, characterData: true, subtree: true});")
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "nfaces").text == "1")
    time.sleep(4)
    assert browser.execute_script("return window.changes") <= 3
    assert browser.find_element(By.ID, "top").get_attribute("aria-live") is None
    browser.find_element(By.ID, "stop").click()


@pytest.mark.parametrize("error, words", [("NotAllowedError", "denied"), ("NotFoundError", "No camera was found")])
def test_live_guides_when_the_camera_is_denied_or_missing(server: str, browser: Chrome, error: str,
                                                          words: str) -> None:
    browser.get(f"{server}/live")
    browser.execute_script("navigator.mediaDevices.getUserMedia = () => Promise.reject("
                           "new DOMException('raw browser text', arguments[0]));", error)
    browser.find_element(By.ID, "start").click()
    status = browser.find_element(By.ID, "status")
    assert words in status.text and "raw browser text" not in status.text
    assert status.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("/")


def test_dashboard_keeps_photos_and_live_apart_and_exports_csv(server: str, browser: Chrome, tmp_path: Path,
                                                               photos_dir: Path, face_jpeg: bytes, store) -> None:
    store(server, (photos_dir / GROUP).read_bytes(), "source=upload", filename=GROUP)
    store(server, face_jpeg, "source=upload")
    for _ in range(2):
        store(server, face_jpeg, "source=webcam&session=live-seeded")
    set_viewport(browser, 1366, 900)
    browser.get(f"{server}/dashboard")
    WebDriverWait(browser, 15).until(lambda d: d.find_element(By.ID, "t-live-faces").text not in ("", "–", "0"))
    assert int(browser.find_element(By.ID, "t-faces").text) >= 6  # the group photo, counted apart from live
    label = browser.find_element(By.ID, "chart-dist").get_attribute("aria-label")
    assert "Photos: " in label and "Live: " in label and "%" in label
    sessions = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#session option")]
    assert any(s.startswith("live-") for s in sessions)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#recent tbody tr")) >= 3
    browser.execute_script("document.getElementById('auto').click()")  # no refresh while the row is read
    group = f"//table[@id='recent']//tr[td[3][text()='upload'] and td[4][.='{GROUP}'] and td[7][text()='6']]"
    upload_row = browser.find_element(By.XPATH, group)
    upload_row.find_element(By.TAG_NAME, "button").click()
    detail = browser.find_element(By.CSS_SELECTOR, "#recent tr.detail")
    assert len(detail.find_elements(By.CSS_SELECTOR, ".detail-faces li")) == 6
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.find_element(By.ID, "csv").click()
    WebDriverWait(browser, 10).until(lambda _: "emolens-analyses.csv" in downloaded(downloads))
    rows = list(csv.DictReader(io.StringIO((downloads / "emolens-analyses.csv").read_text())))
    assert {"upload", "webcam"} <= {r["source"] for r in rows}
    stamps = [r["created_at"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)  # newest first, in time order
    no_console_errors(browser)
