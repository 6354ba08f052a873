"""The dashboard and History in headless Chromium: the time chart draws data that fills only a corner of the range
across the chart, not as a spike at its edge; on a phone the tables become cards that need no sideways scroll."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from support.web import no_console_errors, set_viewport

pytestmark = pytest.mark.slow

RECENT_STATS = """window.statsAsked = [];
const realFetch = window.fetch;
window.fetch = async (url, options) => {
  if (!String(url).includes("/api/v1/stats")) return realFetch(url, options);
  const q = new URL(url, location.href).searchParams;
  statsAsked.push(Number(q.get("bucket")));
  const width = 1000 * (Number(q.get("bucket")) || 60);  // the server's default for an hour: 60 buckets
  const [since, until] = [Date.parse(q.get("since")), Date.parse(q.get("until"))];
  const labels = JSON.parse(document.body.dataset.labels);
  const counts = Object.fromEntries(labels.map((l, i) => [l, i === 0 ? 2 : 0]));
  const buckets = [];  // two faces in every bucket of the last three minutes before the last half-minute
  for (let t = Math.ceil((until - 180000) / width) * width; t < until - 30000; t += width) {
    buckets.push({start: new Date(t).toISOString(), analyses: 1, frames: 0, faces: 2, counts, mean_scores: {}});
  }
  const group = {analyses: buckets.length, frames: 0, faces: 2 * buckets.length,
                 counts: Object.fromEntries(labels.map((l, i) => [l, i === 0 ? 2 * buckets.length : 0]))};
  return new Response(JSON.stringify({since: new Date(since).toISOString(), until: new Date(until).toISOString(),
    bucket_seconds: width / 1000, labels, totals: group, by_source: {api: group}, by_session: {},
    by_class_balance: {"0.5": group}, buckets}),
    {headers: {"Content-Type": "application/json"}});
};"""
"""Runs before the page's scripts: /api/v1/stats answers with data in the last three minutes of the range only
(bucketed as asked), and the bucket widths asked for are kept in ``statsAsked``."""

TIME_CHART = """const chart = Chart.getChart(document.getElementById("chart-time"));
const note = document.getElementById("time-fitted");
const totals = chart.data.labels.map((_, i) => chart.data.datasets.reduce((a, d) => a + d.data[i], 0));
return {points: totals.length, first: totals.findIndex((n) => n > 0),
        last: totals.length - 1 - [...totals].reverse().findIndex((n) => n > 0),
        note: note && !note.hidden ? note.textContent : null};"""


def test_minutes_old_data_in_the_last_hour_spans_the_time_chart(server: str, browser: Chrome) -> None:
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECENT_STATS})
    try:
        browser.get(f"{server}/dashboard")  # the last hour, by default
        WebDriverWait(browser, 10).until(lambda d: d.execute_script(TIME_CHART)["first"] >= 0)
        chart = browser.execute_script(TIME_CHART)
        assert browser.execute_script("return window.statsAsked") == [10]  # 360 buckets over the hour, one request
        # before: 60 one-minute buckets, the data in the last 4 of them; now the data's 2.5 minutes fill the chart
        assert chart["first"] <= 0.2 * chart["points"] and chart["last"] >= 0.8 * (chart["points"] - 1), chart
        assert 10 <= chart["points"] <= 60
        assert chart["note"] and chart["note"].startswith("Zoomed to where the data is")
        no_console_errors(browser)
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})


FITS = """const [table, width] = [document.getElementById(arguments[0]), document.documentElement.clientWidth];
const wrap = table.closest(".table-wrap");
const outside = [...table.querySelectorAll("tbody td.top")].map((td) => td.getBoundingClientRect())
  .filter((r) => r.left < 0 || r.right > width);
return {cells: table.querySelectorAll("tbody td.top").length, outside: outside.length,
        page: document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth,
        wrap: wrap.scrollWidth - wrap.clientWidth,
        label: getComputedStyle(table.querySelector("tbody td.top"), "::before").content};"""
"""The emotion cells of a table that reach outside the viewport, and how far the page and the table's wrapper
scroll sideways."""


@pytest.mark.parametrize("page, table", [("/dashboard", "recent"), ("/history", "history")])
def test_a_phone_shows_the_emotions_without_sideways_scroll(server: str, browser: Chrome, face_jpeg: bytes,
                                                            store, screenshots: Path, page: str, table: str) -> None:
    store(server, face_jpeg, "source=upload", filename="a-rather-long-name-for-a-holiday-photo-of-the-family.jpg")
    set_viewport(browser, 390, 844)
    try:
        browser.get(f"{server}{page}")
        WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{table} tbody td.top"))
        fits = browser.execute_script(FITS, table)
        assert fits["cells"] >= 1 and fits["outside"] == 0, fits  # before: 3 of 9 columns (2 of 8) in view
        assert fits["page"] <= 0 and fits["wrap"] <= 0, fits
        assert fits["label"] == '"Top emotion"'  # each value says what it is
        browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, table))
        browser.save_screenshot(str(screenshots / f"phone-{table}.png"))
        no_console_errors(browser)
    finally:
        set_viewport(browser, 1366, 900)
