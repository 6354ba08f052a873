"""Bounded storage for live webcam streams: frames are aggregated, never stored one row per frame.

Each live session (the ``session`` parameter; one shared anonymous key when absent) accumulates its frames in
memory for ``window_s`` seconds; the window is then written as one ``analyses`` row (``frames`` = N,
``result`` null) with its summed tallies. So a camera at 20 frames/s writes one row per window (default 10 s),
whatever its frame rate. Windows are closed when a later frame or request finds them due, when a reader asks
(:meth:`LiveAggregator.flush` before the dashboard reads) and at shutdown; a crash loses at most one open
window per session. Each server process keeps its own windows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from emolens.storage.repository import AnalysisRecord, Tally, now_ms


@dataclass
class _Window:
    start_ms: int
    model: str
    detector: str
    tta: bool
    frames: int = 0
    elapsed_ms: float = 0.0
    tally: Tally = field(default_factory=Tally)


class LiveAggregator:
    """Accumulates live frames per session and hands closed windows to ``write`` (thread-safe).

    Args:
        write: stores one aggregated record (e.g. ``functools.partial(repository.record, engine)``).
        window_s: how long a window stays open.
        max_sessions: open windows beyond this many close early, oldest first (bounds memory).
    """

    def __init__(self, write: Callable[[AnalysisRecord], object], window_s: float = 10.0,
                 max_sessions: int = 1000) -> None:
        self._write = write
        self._window_ms = int(window_s * 1000)
        self._max_sessions = max_sessions
        self._open: dict[Optional[str], _Window] = {}
        self._lock = threading.Lock()

    def add(self, session: Optional[str], model: str, detector: str, tta: bool, elapsed_ms: float,
            faces: list[tuple[str, dict[str, float]]]) -> None:
        """Count one frame: ``faces`` holds (top emotion, scores) per face."""
        now = now_ms()
        with self._lock:
            for key in [key for key, w in self._open.items() if now - w.start_ms >= self._window_ms]:
                self._close(key)
            window = self._open.get(session)
            if window is not None and (window.model, window.detector, window.tta) != (model, detector, tta):
                self._close(session)
                window = None
            if window is None:
                if len(self._open) >= self._max_sessions:
                    self._close(min(self._open, key=lambda key: self._open[key].start_ms))
                window = self._open[session] = _Window(now, model, detector, tta)
            window.frames += 1
            window.elapsed_ms += elapsed_ms
            for emotion, scores in faces:
                window.tally.add(emotion, scores)

    def flush(self) -> None:
        """Write every open window now (before reading statistics, and at shutdown)."""
        with self._lock:
            for key in list(self._open):
                self._close(key)

    def _close(self, session: Optional[str]) -> None:
        window = self._open.pop(session)
        self._write(AnalysisRecord(source="webcam", session=session, model=window.model, detector=window.detector,
                                   tta=window.tta, elapsed_ms=window.elapsed_ms / window.frames,
                                   tally=window.tally, frames=window.frames, created_ms=window.start_ms))
