"""Headless Chromium plays what ``emolens video --annotate`` writes (an MPEG-4 Part 2 file, which OpenCV wrote
before, fails here with a decode error)."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from click.testing import CliRunner
from selenium.webdriver import Chrome

from emolens.cli.main import cli

pytestmark = pytest.mark.slow

PLAYED = """const [done, video] = [arguments[arguments.length - 1], document.querySelector('video')];
const report = () => done({readyState: video.readyState, width: video.videoWidth, height: video.videoHeight,
                           duration: video.duration, error: video.error && video.error.code});
video.addEventListener('loadeddata', report);
video.addEventListener('error', report);
if (video.readyState >= 2 || video.error) report();"""
"""Waits for the video's first frame or its error; reports what the element knows."""


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_chromium_plays_the_annotated_video(photo_video: Path, browser: Chrome, tmp_path: Path, suffix: str,
                                            codec: str) -> None:
    annotated = tmp_path / f"annotated{suffix}"
    result = CliRunner().invoke(cli, ["video", str(photo_video), "--annotate", str(annotated)])
    assert result.exit_code == 0, result.output
    with av.open(str(annotated)) as video:
        assert video.streams.video[0].codec_context.name == codec
    page = tmp_path / "play.html"
    page.write_text(f'<!doctype html><video muted preload="auto" src="{annotated.as_uri()}"></video>')
    browser.get(page.as_uri())
    browser.set_script_timeout(20)
    state = browser.execute_async_script(PLAYED)
    assert state["error"] is None and state["readyState"] >= 2, state  # HAVE_CURRENT_DATA: a frame is decoded
    assert (state["width"], state["height"]) == (640, 360)
    assert state["duration"] == pytest.approx(1.8, abs=0.05)  # 18 frames at 10 frames/s, to within half a frame
