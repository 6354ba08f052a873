"""Database tables. A row of ``analyses`` is one analysed image, or one aggregated window of live frames;
``emotion_tallies`` holds, per analysis and emotion, how many faces had it as top emotion and the sum of its
probability over all faces, so that counts and mean scores aggregate with plain SQL sums."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base; its metadata is the migrations' target."""


class Analysis(Base):
    """One analysed image (``frames`` = 1) or one window of live frames (``frames`` > 1, ``result`` null)."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    """UTC epoch milliseconds (an integer, so that time buckets are integer division on every database)."""
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    session: Mapped[Optional[str]] = mapped_column(String(64))
    frames: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    faces: Mapped[int] = mapped_column(Integer, nullable=False)
    elapsed_ms: Mapped[float] = mapped_column(Float, nullable=False)
    """Mean analysis time per frame."""
    tta: Mapped[bool] = mapped_column(nullable=False, default=False)
    class_balance: Mapped[Optional[float]] = mapped_column(Float)
    """The class balance of the model calibration that scored the faces (see
    :attr:`~emolens.pipeline.options.AnalyzerOptions.class_balance`); null when the model does not say, and for
    analyses stored before it was recorded."""
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    detector: Mapped[str] = mapped_column(String(64), nullable=False)
    result: Mapped[Optional[list[dict[str, Any]]]] = mapped_column(JSON)
    """The faces as the API returned them; null for aggregated live windows."""
    image: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    """The uploaded bytes, only when image storage is turned on."""
    image_type: Mapped[Optional[str]] = mapped_column(String(64))
    filename: Mapped[Optional[str]] = mapped_column(String(255))
    """The uploaded file's base name, sanitised (see :func:`emolens.web.uploads.clean_filename`); null when the
    image came as a raw request body, and for live windows."""
    thumbnail: Mapped[Optional[bytes]] = mapped_column(LargeBinary)
    """A small JPEG of the uploaded image, only when thumbnail storage is turned on."""
    live_window: Mapped[Optional[str]] = mapped_column(String(400))
    """Live windows only: the key that each frame's counts are upserted into (see
    :func:`~emolens.storage.repository.add_live_frame`); null for single analyses."""

    __table_args__ = (
        Index("ix_analyses_created_ms", "created_ms"),
        Index("ix_analyses_source_created_ms", "source", "created_ms"),
        Index("ix_analyses_session_created_ms", "session", "created_ms"),
        Index("ux_analyses_live_window", "live_window", unique=True),
    )


class EmotionTally(Base):
    """Per analysis and emotion: faces with that top emotion, and the summed probability over all faces."""

    __tablename__ = "emotion_tallies"

    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    score_sum: Mapped[float] = mapped_column(Float, nullable=False)
