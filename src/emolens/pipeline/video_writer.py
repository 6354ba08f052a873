"""Writing videos that browsers play: H.264 in MP4 or VP9 in WebM, encoded by the FFmpeg that PyAV's wheels ship.

OpenCV's ``VideoWriter`` can only count on MPEG-4 Part 2 (``mp4v``) in its wheels, which browsers refuse; PyAV's
wheels carry libx264 and libvpx, so the codecs browsers play need no system FFmpeg."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, cast

import numpy as np

from emolens.errors import InputError

if TYPE_CHECKING:
    import av

CODECS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    # +faststart puts the index first, so that a browser starts playing before the whole file has arrived
    ".mp4": ("libx264", {"preset": "veryfast", "crf": "23"}, {"movflags": "+faststart"}),
    # constant quality (b:v 0) in libvpx's real-time mode: its default "good" mode is many times slower
    ".webm": ("libvpx-vp9", {"crf": "32", "b:v": "0", "deadline": "realtime", "cpu-used": "8"}, {}),
}
"""Per file suffix: the encoder, its options and the container's options."""


class VideoWriter:
    """A video file written frame by frame (BGR frames of one size): H.264 for ``.mp4``, VP9 for ``.webm``.
    Frames of odd width or height are padded by one edge pixel (4:2:0 needs even sizes). Use as a ``with`` block
    or call :meth:`close`, which flushes the encoder.

    Raises:
        InputError: the suffix is neither ``.mp4`` nor ``.webm``, or the file cannot be created.
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int) -> None:
        import av

        self.path = Path(path)
        if self.path.suffix.lower() not in CODECS:
            raise InputError(f"{self.path}: the video must be .mp4 (H.264) or .webm (VP9)")
        codec, options, container_options = CODECS[self.path.suffix.lower()]
        self._pad = (height % 2, width % 2)
        self._container: Any = av.open(str(self.path), "w", container_options=container_options)
        self._stream = cast("av.VideoStream", self._container.add_stream(
            codec, rate=Fraction(fps).limit_denominator(1001), options=options))
        self._stream.width, self._stream.height = width + self._pad[1], height + self._pad[0]
        self._stream.pix_fmt = "yuv420p"
        try:
            self._container.start_encoding()  # creates the file: a bad path fails here, before any work
        except (av.FFmpegError, OSError) as exc:
            self._container.close()
            raise InputError(f"{self.path}: cannot write video ({getattr(exc, 'strerror', None) or exc})") from None

    def write(self, frame: np.ndarray) -> None:
        """Encode one BGR frame."""
        import av

        if any(self._pad):
            frame = np.pad(frame, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))

    def close(self) -> None:
        """Flush the encoder and finish the file. Idempotent."""
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()
