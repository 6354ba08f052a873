"""``VideoWriter``: the codecs browsers play, any frame size and rate, clear errors. That Chromium plays what it
writes is tested in tests/web/test_browser_video.py."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from emolens.errors import InputError
from emolens.pipeline.video_writer import VideoWriter


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9"), (".MP4", "h264")])
def test_odd_sized_frames_at_ntsc_rate_are_written_in_a_browser_codec(tmp_path: Path, suffix: str,
                                                                      codec: str) -> None:
    path = tmp_path / f"clip{suffix}"
    frames = [np.full((241, 321, 3), 20 * i, np.uint8) for i in range(10)]
    with VideoWriter(path, 30000 / 1001, 321, 241) as writer:
        for frame in frames:
            writer.write(frame)
    with av.open(str(path)) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == codec and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == Fraction(30000, 1001)
        decoded = [f.to_ndarray(format="bgr24") for f in video.decode(stream)]
    assert len(decoded) == 10 and decoded[0].shape == (242, 322, 3)  # padded by one edge pixel each way
    # each flat grey frame comes back nearest its own grey (they are 20 levels apart; lossy coding and the limited
    # range of video YUV shift a grey by a few levels): order and content survive
    assert [round(float(np.median(f)) / 20) for f in decoded] == list(range(10))


def test_other_suffixes_and_unwritable_paths_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"out\.avi: the video must be \.mp4 \(H\.264\) or \.webm"):
        VideoWriter(tmp_path / "out.avi", 25, 64, 64)
    with pytest.raises(InputError, match="missing/out.mp4: cannot write video"):
        VideoWriter(tmp_path / "missing" / "out.mp4", 25, 64, 64)
