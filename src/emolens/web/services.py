"""What the app holds for its lifetime: the analyzers (each loaded once), storage, and the analysis slots.
Nothing about requests or sessions is kept here: the database is the only shared state."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import current_app

from emolens.errors import BusyError, InputError
from emolens.pipeline.analyzer import Analyzer
from emolens.storage import Storage
from emolens.web.config import analyzer_options


def make_analyzer(config: Mapping[str, Any], detector: Optional[str] = None) -> Analyzer:
    """The analyzer the settings describe (:func:`~emolens.web.config.analyzer_options`), with ``detector``
    (default: ``DETECTOR``). ``DETECTOR_OPTIONS`` belong to ``DETECTOR``; another detector gets its own defaults."""
    options = analyzer_options(config)
    if detector and detector != options.detector:
        options = options.replace(detector=detector, detector_options={})
    return Analyzer.create_from_options(options)


def allowed_detectors(config: Mapping[str, Any], default: str) -> list[str]:
    """``default`` first, then the other detectors ``ALLOWED_DETECTORS`` lets a request choose (names checked
    when the settings were read, :mod:`emolens.web.config`)."""
    return [default, *dict.fromkeys(n for n in config["ALLOWED_DETECTORS"] if n != default)]


@dataclass
class Services:
    """Shared, thread-safe objects of one app.

    Args:
        slots: images decoded and analysed at once in this process; each holds a decoded image, so this and
            ``MAX_PIXELS`` bound the memory a worker needs.
        queue_s: how long a request waits for a slot before it is answered 503 (Retry-After).
        owns_analyzer: whether :meth:`close` closes ``analyzer`` (False: its maker, say another app, owns it).
            The analyzers loaded for other detectors, and storage, are always this object's to close.
    """

    analyzer: Analyzer
    storage: Storage
    live_window_ms: int
    slots: int = 2
    queue_s: float = 10.0
    owns_analyzer: bool = True
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)
    _analyzers: dict[str, Analyzer] = field(init=False, repr=False)
    _loading: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.slots)
        self._analyzers = {self.analyzer.detector_name: self.analyzer}

    @property
    def detectors(self) -> list[str]:
        """The detectors a request may choose, the default first."""
        return allowed_detectors(current_app.config, self.analyzer.detector_name)

    def analyzer_for(self, detector: Optional[str]) -> Analyzer:
        """The analyzer with ``detector`` (None: the default one), loaded on first use and kept; a detector the
        server does not allow is an :class:`InputError`."""
        if detector is None:
            return self.analyzer
        allowed = self.detectors
        if detector not in allowed:
            raise InputError(f"detector {detector!r} is not allowed on this server; choose one of: "
                             f"{', '.join(allowed)}")
        with self._loading:
            if detector not in self._analyzers:
                self._analyzers[detector] = make_analyzer(current_app.config, detector)
            return self._analyzers[detector]

    @property
    def class_balances(self) -> list[float]:
        """The class balances a page offers: ``ALLOWED_CLASS_BALANCES`` and the default, else those the model
        stores (its default alone when it stores no others; none when it does not say)."""
        allowed = current_app.config["ALLOWED_CLASS_BALANCES"]
        default = self.analyzer.resolve_class_balance(current_app.config["CLASS_BALANCE"])
        if allowed is not None:
            return sorted({*allowed, *([] if default is None else [default])})
        stored = [p.class_balance for p in self.analyzer.model_info.calibration.points] or [default]
        return [b for b in stored if b is not None]

    def class_balance_for(self, analyzer: Analyzer, asked: Optional[float]) -> Optional[float]:
        """The class balance a request that asks for ``asked`` (None: the server's ``CLASS_BALANCE``, else the
        model's default) is scored with; :class:`InputError` when the server does not allow it,
        :class:`~emolens.errors.ConfigError` when the model does not store it."""
        if asked is not None and current_app.config["ALLOWED_CLASS_BALANCES"] is not None \
                and asked not in self.class_balances:
            raise InputError(f"class balance {asked:g} is not allowed on this server; choose one of: "
                             f"{', '.join(f'{b:g}' for b in self.class_balances)}")
        return analyzer.resolve_class_balance(current_app.config["CLASS_BALANCE"] if asked is None else asked)

    @property
    def model_name(self) -> str:
        """The model file's name, as stored with each analysis."""
        return self.analyzer.model_name

    def close(self) -> None:
        """Close storage (its threads and connections) and the analyzers this object owns. Idempotent."""
        self.storage.close()
        with self._loading:
            owned = [a for a in self._analyzers.values() if a is not self.analyzer or self.owns_analyzer]
        for analyzer in owned:
            analyzer.close()

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
