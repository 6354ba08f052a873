"""What the app holds for its lifetime: the analyzer (loaded once), storage, and the analysis slots.
Nothing about requests or sessions is kept here: the database is the only shared state."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Iterator

from flask import current_app

from emolens.errors import BusyError
from emolens.pipeline.analyzer import Analyzer
from emolens.storage import Storage


@dataclass
class Services:
    """Shared, thread-safe objects of one app.

    Args:
        slots: images decoded and analysed at once in this process; each holds a decoded image, so this and
            ``MAX_PIXELS`` bound the memory a worker needs.
        queue_s: how long a request waits for a slot before it is answered 503 (Retry-After).
    """

    analyzer: Analyzer
    storage: Storage
    live_window_ms: int
    slots: int = 2
    queue_s: float = 10.0
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.slots)

    @property
    def model_name(self) -> str:
        """The model file's name, as stored with each analysis."""
        return self.analyzer.model_name

    @contextlib.contextmanager
    def analysis_slot(self) -> Iterator[None]:
        """Hold one of the analysis slots; BusyError when none frees up within ``queue_s``."""
        if not self._slots.acquire(timeout=self.queue_s):
            raise BusyError(f"server busy: {self.slots} images are being analysed in this process; retry shortly")
        try:
            yield
        finally:
            self._slots.release()


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["emolens"]
