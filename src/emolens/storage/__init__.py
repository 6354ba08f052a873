"""Storage of analysis results in SQLite or PostgreSQL through SQLAlchemy, with Alembic migrations."""

from emolens.storage.database import make_engine, upgrade
from emolens.storage.live import LiveAggregator
from emolens.storage.repository import (AnalysisRecord, Filters, Tally, now_ms, recent, record, stats,
                                        stored_image)

__all__ = ["AnalysisRecord", "Filters", "LiveAggregator", "Tally", "make_engine", "now_ms", "recent", "record",
           "stats", "stored_image", "upgrade"]
