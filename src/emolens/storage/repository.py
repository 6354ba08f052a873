"""Writing analyses and reading them back: recent pages and aggregated statistics in time buckets.

Every function takes an :class:`~sqlalchemy.Engine` and runs one short transaction, so it is safe to call
from many threads, processes and hosts (SQLite serialises writers through its busy timeout; PostgreSQL
through MVCC). No state is kept between calls: live frames are added to their window's row by an atomic
upsert, so the database is the only shared state."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import Engine, and_, func, insert, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from emolens.storage.models import Analysis, EmotionTally


def now_ms() -> int:
    """Current UTC time in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass
class Tally:
    """Faces per top emotion and summed probabilities per emotion, over one or many frames."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    score_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    faces: int = 0

    def add(self, emotion: str, scores: Mapping[str, float]) -> None:
        """Count one face."""
        self.faces += 1
        self.counts[emotion] += 1
        for label, score in scores.items():
            self.score_sums[label] += float(score)

    def rows(self, analysis_id: int) -> list[dict[str, Any]]:
        """``emotion_tallies`` rows for one analysis."""
        labels = set(self.counts) | set(self.score_sums)
        return [{"analysis_id": analysis_id, "label": label, "count": self.counts.get(label, 0),
                 "score_sum": self.score_sums.get(label, 0.0)} for label in sorted(labels)]


@dataclass
class AnalysisRecord:
    """What one stored analysis holds (see :class:`~emolens.storage.models.Analysis`)."""

    source: str
    session: Optional[str]
    model: str
    detector: str
    tta: bool
    elapsed_ms: float
    tally: Tally
    frames: int = 1
    result: Optional[list[dict[str, Any]]] = None
    image: Optional[bytes] = None
    image_type: Optional[str] = None
    filename: Optional[str] = None
    thumbnail: Optional[bytes] = None
    created_ms: int = field(default_factory=now_ms)
    class_balance: Optional[float] = None


def record(engine: Engine, rec: AnalysisRecord) -> int:
    """Store one analysis with its tallies in one transaction; returns its id."""
    values = {"created_ms": rec.created_ms, "source": rec.source, "session": rec.session, "frames": rec.frames,
              "faces": rec.tally.faces, "elapsed_ms": rec.elapsed_ms, "tta": rec.tta, "model": rec.model,
              "class_balance": rec.class_balance, "detector": rec.detector, "result": rec.result, "image": rec.image,
              "image_type": rec.image_type, "filename": rec.filename, "thumbnail": rec.thumbnail}
    with engine.begin() as conn:
        key = conn.execute(insert(Analysis).values(**values)).inserted_primary_key
        assert key is not None  # a single-row insert always reports its primary key
        analysis_id = key[0]
        rows = rec.tally.rows(analysis_id)
        if rows:
            conn.execute(insert(EmotionTally), rows)
    return int(analysis_id)


def _upsert(engine: Engine, table: type) -> Any:
    """The dialect's ``INSERT ... ON CONFLICT`` construct for ``table`` (SQLite and PostgreSQL have it)."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(engine.dialect.name)
    if dialect is None:
        raise NotImplementedError(f"live sessions need SQLite or PostgreSQL, not {engine.dialect.name}")
    return dialect.insert(table)


def live_window_key(rec: AnalysisRecord, window_ms: int) -> tuple[int, str]:
    """The start of the time bucket that ``rec`` falls in, and its window's unique key."""
    start = rec.created_ms - rec.created_ms % window_ms
    balance = "" if rec.class_balance is None else f"/{rec.class_balance!r}"
    return start, f"{start}/{rec.session or ''}/{int(rec.tta)}/{rec.detector}/{rec.model}{balance}"


def add_live_frame(engine: Engine, rec: AnalysisRecord, window_ms: int) -> int:
    """Add one live frame to its window's row (created on the first frame) in one transaction; returns the
    row's id. Windows are aligned time buckets of ``window_ms`` per session, model, detector, TTA and class
    balance, so a window closes by time alone, whichever process serves the next frame; the upserts make
    concurrent frames from any number of processes add up exactly."""
    start, key = live_window_key(rec, window_ms)
    row = _upsert(engine, Analysis).values(
        created_ms=start, source=rec.source, session=rec.session, frames=rec.frames, faces=rec.tally.faces,
        elapsed_ms=rec.elapsed_ms, tta=rec.tta, model=rec.model, detector=rec.detector, live_window=key,
        class_balance=rec.class_balance)
    new = row.excluded
    row = row.on_conflict_do_update(index_elements=[Analysis.live_window], set_={
        "frames": Analysis.frames + new.frames, "faces": Analysis.faces + new.faces,
        "elapsed_ms": (Analysis.elapsed_ms * Analysis.frames + new.elapsed_ms * new.frames)
                      / (Analysis.frames + new.frames)}).returning(Analysis.id)
    with engine.begin() as conn:
        analysis_id = conn.execute(row).scalar_one()
        rows = rec.tally.rows(analysis_id)
        if rows:
            tallies = _upsert(engine, EmotionTally).values(rows)
            conn.execute(tallies.on_conflict_do_update(
                index_elements=[EmotionTally.analysis_id, EmotionTally.label],
                set_={"count": EmotionTally.count + tallies.excluded.count,
                      "score_sum": EmotionTally.score_sum + tallies.excluded.score_sum}))
    return int(analysis_id)


@dataclass(frozen=True)
class Filters:
    """Time range [since_ms, until_ms) and optional source, session and class balance."""

    since_ms: int
    until_ms: int
    source: Optional[str] = None
    session: Optional[str] = None
    class_balance: Optional[float] = None

    def apply(self, query: Select) -> Select:
        query = query.where(Analysis.created_ms >= self.since_ms, Analysis.created_ms < self.until_ms)
        if self.source:
            query = query.where(Analysis.source == self.source)
        if self.session:
            query = query.where(Analysis.session == self.session)
        if self.class_balance is not None:
            query = query.where(Analysis.class_balance == self.class_balance)
        return query


def recent(engine: Engine, filters: Filters, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """Total matching analyses and one page of them, newest first (by time), each with its emotion counts."""
    with engine.connect() as conn:
        total = conn.execute(filters.apply(select(func.count()).select_from(Analysis))).scalar_one()
        return total, _page(conn, filters.apply(_listed()).offset(offset), limit)


def older(engine: Engine, filters: Filters, limit: int,
          before: Optional[tuple[int, int]] = None) -> list[dict[str, Any]]:
    """One page of matching analyses, newest first, each with its emotion counts: those strictly after ``before``
    (the ``(created_ms, id)`` of the last row of the previous page; None: from the newest) in that order. Paging by
    key, unlike by offset, neither repeats nor skips a row when analyses are stored between pages, and each page
    costs an index range scan however deep it is."""
    query = filters.apply(_listed())
    if before is not None:
        created_ms, analysis_id = before
        query = query.where(or_(Analysis.created_ms < created_ms,
                                and_(Analysis.created_ms == created_ms, Analysis.id < analysis_id)))
    with engine.connect() as conn:
        return _page(conn, query, limit)


def _listed() -> Select:
    """The listed columns of analyses (not the image, the thumbnail or the live window key), with whether an image
    and a thumbnail are stored."""
    columns = [c for c in Analysis.__table__.c if c.name not in ("image", "thumbnail", "live_window")]
    flags = [Analysis.image.is_not(None).label("has_image"), Analysis.thumbnail.is_not(None).label("has_thumbnail")]
    return select(*columns, *flags)


def _page(conn: Any, query: Select, limit: int) -> list[dict[str, Any]]:
    """``limit`` rows of ``query``, newest first (by time, then id), each with its emotion counts."""
    page = conn.execute(query.order_by(Analysis.created_ms.desc(), Analysis.id.desc()).limit(limit)).mappings().all()
    ids = [row["id"] for row in page]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if ids:
        for aid, label, count in conn.execute(select(EmotionTally.analysis_id, EmotionTally.label, EmotionTally.count)
                                              .where(EmotionTally.analysis_id.in_(ids))):
            if count:
                counts[aid][label] = count
    return [{**row, "counts": counts[row["id"]]} for row in page]


def stored_image(engine: Engine, analysis_id: int) -> Optional[tuple[bytes, Optional[str]]]:
    """The stored upload of one analysis and its declared type; None when there is none."""
    with engine.connect() as conn:
        row = conn.execute(select(Analysis.image, Analysis.image_type).where(Analysis.id == analysis_id)).first()
    return None if row is None or row.image is None else (row.image, row.image_type)


def stored_thumbnail(engine: Engine, analysis_id: int) -> Optional[bytes]:
    """The stored JPEG thumbnail of one analysis; None when there is none."""
    with engine.connect() as conn:
        return conn.execute(select(Analysis.thumbnail).where(Analysis.id == analysis_id)).scalar()


def _grouped(conn: Any, filters: Filters, key: Any = None) -> dict[Any, dict[str, Any]]:
    """Analyses, frames, faces, counts and score sums per value of ``key`` (a column expression), or in all
    (under key 0) when ``key`` is None."""
    group = [] if key is None else [key]
    key = literal(0) if key is None else key
    groups: dict[Any, dict[str, Any]] = defaultdict(lambda: {"analyses": 0, "frames": 0, "faces": 0,
                                                             "counts": {}, "score_sums": {}})
    totals = filters.apply(select(key.label("k"), func.count(), func.sum(Analysis.frames), func.sum(Analysis.faces))
                           .select_from(Analysis).group_by(*group))
    for k, n, frames, faces in conn.execute(totals):
        groups[k].update(analyses=n, frames=int(frames or 0), faces=int(faces or 0))
    tallies = filters.apply(select(key.label("k"), EmotionTally.label, func.sum(EmotionTally.count),
                                   func.sum(EmotionTally.score_sum))
                            .select_from(Analysis).join(EmotionTally, EmotionTally.analysis_id == Analysis.id)
                            .group_by(*group, EmotionTally.label))
    for k, label, count, score_sum in conn.execute(tallies):
        groups[k]["counts"][label] = int(count or 0)
        groups[k]["score_sums"][label] = float(score_sum or 0.0)
    return groups


def _finish(group: dict[str, Any], labels: Iterable[str]) -> dict[str, Any]:
    """Counts for every label, and mean score = summed probability / faces."""
    faces = group["faces"]
    return {"analyses": group["analyses"], "frames": group["frames"], "faces": faces,
            "counts": {label: group["counts"].get(label, 0) for label in labels},
            "mean_scores": {label: (group["score_sums"].get(label, 0.0) / faces if faces else 0.0)
                            for label in labels}}


def _balance_key(value: float) -> str:
    """A class balance as a key of the statistics: ``"0.5"``, or ``"unknown"`` for analyses without one."""
    return "unknown" if value < 0 else f"{value:g}"


def stats(engine: Engine, filters: Filters, bucket_ms: int, labels: Iterable[str]) -> dict[str, Any]:
    """Totals, per source, per session, per class balance (see :func:`_balance_key`) and per time bucket (buckets
    aligned to multiples of ``bucket_ms``)."""
    with engine.connect() as conn:
        total = _grouped(conn, filters)
        by_source = _grouped(conn, filters, Analysis.source)
        by_session = _grouped(conn, filters, func.coalesce(Analysis.session, ""))
        buckets = _grouped(conn, filters, Analysis.created_ms // bucket_ms)
        by_balance = _grouped(conn, filters, func.coalesce(Analysis.class_balance, -1.0))
    seen = set(labels)
    for groups in (total, by_source, by_session, buckets, by_balance):
        for group in groups.values():
            seen.update(group["counts"])
    ordered = list(labels) + sorted(seen - set(labels))
    empty = {"analyses": 0, "frames": 0, "faces": 0, "counts": {}, "score_sums": {}}
    return {
        "labels": ordered,
        "totals": _finish(next(iter(total.values()), empty), ordered),
        "by_source": {k: _finish(v, ordered) for k, v in sorted(by_source.items())},
        "by_session": {k: _finish(v, ordered) for k, v in sorted(by_session.items()) if k},
        "by_class_balance": {_balance_key(k): _finish(v, ordered) for k, v in sorted(by_balance.items())},
        "buckets": [{"start_ms": int(k) * bucket_ms, **_finish(v, ordered)} for k, v in sorted(buckets.items())],
    }
