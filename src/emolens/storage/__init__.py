"""Storage of analysis results in SQLite or PostgreSQL through SQLAlchemy, with Alembic migrations."""

from emolens.storage.database import Storage, make_engine, upgrade
from emolens.storage.repository import (
    AnalysisRecord,
    Filters,
    Tally,
    add_live_frame,
    now_ms,
    older,
    recent,
    record,
    stats,
    stored_image,
    stored_thumbnail,
)

__all__ = ["AnalysisRecord", "Filters", "Storage", "Tally", "add_live_frame", "make_engine", "now_ms", "older",
           "recent", "record", "stats", "stored_image", "stored_thumbnail", "upgrade"]
