"""What the app holds for its lifetime: the analyzer (loaded once), the database engine, the live aggregator."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import Engine

from emolens.pipeline.analyzer import Analyzer
from emolens.storage import LiveAggregator, record


@dataclass
class Services:
    """Shared, thread-safe objects of one app."""

    analyzer: Analyzer
    engine: Engine
    live: LiveAggregator

    @classmethod
    def create(cls, analyzer: Analyzer, engine: Engine, live_window_s: float) -> "Services":
        return cls(analyzer, engine, LiveAggregator(functools.partial(record, engine), live_window_s))

    @property
    def model_name(self) -> str:
        """The model file's name, as stored with each analysis."""
        return Path(self.analyzer.classifier.model_path).name


def services() -> Services:
    """The current app's services."""
    return current_app.extensions["emolens"]
