"""The arithmetic of statistics over time: which bucket an analysis falls in (SQLite and PostgreSQL alike), and
the bucket width the API picks for a range."""

from __future__ import annotations

import pytest

from emolens.storage import AnalysisRecord, Filters, make_engine, record, stats, upgrade
from emolens.storage.repository import Tally
from emolens.web.api import MAX_BUCKETS, ApiError, _bucket_seconds

LABELS = ("happy", "sad")
MINUTE_MS = 60_000
T0 = 1_700_000_040_000  # a whole minute: 2023-11-14 22:14:00 UTC


def _analysis(created_ms: int, emotion: str, faces: int = 1) -> AnalysisRecord:
    tally = Tally()
    for _ in range(faces):
        tally.add(emotion, {"happy": 0.9 if emotion == "happy" else 0.1, "sad": 0.1 if emotion == "happy" else 0.9})
    return AnalysisRecord(source="api", session=None, model="m.onnx", detector="det", tta=False, elapsed_ms=1.0,
                          tally=tally, created_ms=created_ms)


def test_each_analysis_counts_in_the_bucket_its_time_falls_in(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    for created_ms, emotion, faces in ((T0, "happy", 1), (T0 + MINUTE_MS - 1, "sad", 2),  # both in the first minute
                                       (T0 + MINUTE_MS, "happy", 3),  # exactly on the edge: the next minute
                                       (T0 + 5 * MINUTE_MS + 30_000, "sad", 1),  # four empty minutes later
                                       (T0 + 10 * MINUTE_MS, "happy", 5)):  # at `until`: outside the range
        record(engine, _analysis(created_ms, emotion, faces))
    result = stats(engine, Filters(T0, T0 + 10 * MINUTE_MS), MINUTE_MS, LABELS)
    engine.dispose()
    buckets = [(b["start_ms"], b["analyses"], b["faces"], b["counts"]) for b in result["buckets"]]
    assert buckets == [(T0, 2, 3, {"happy": 1, "sad": 2}),
                       (T0 + MINUTE_MS, 1, 3, {"happy": 3, "sad": 0}),
                       (T0 + 5 * MINUTE_MS, 1, 1, {"happy": 0, "sad": 1})]
    assert result["totals"]["faces"] == 7 and result["totals"]["analyses"] == 4
    first = result["buckets"][0]["mean_scores"]
    assert first["happy"] == pytest.approx((0.9 + 0.1 + 0.1) / 3) and first["sad"] == pytest.approx(1.9 / 3)


def test_buckets_align_to_multiples_of_their_width_not_to_since(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    hour_ms = 60 * MINUTE_MS
    record(engine, _analysis(T0 + 7 * MINUTE_MS, "happy"))
    result = stats(engine, Filters(T0 + 5 * MINUTE_MS, T0 + hour_ms), hour_ms, LABELS)
    engine.dispose()
    assert [b["start_ms"] for b in result["buckets"]] == [(T0 + 7 * MINUTE_MS) // hour_ms * hour_ms]


@pytest.mark.parametrize("span_s, width", [(10, 1), (60, 1), (61, 5), (3600, 60), (3601, 300), (86400, 1800),
                                           (7 * 86400, 3 * 3600), (60 * 86400, 86400), (61 * 86400, 7 * 86400),
                                           (3650 * 86400, 7 * 86400)])
def test_default_bucket_width_gives_at_most_60_buckets(span_s: float, width: int) -> None:
    assert _bucket_seconds(span_s, None) == width


def test_asked_bucket_width_is_kept_unless_it_makes_too_many_buckets() -> None:
    assert _bucket_seconds(3600, 7) == 7
    assert _bucket_seconds(MAX_BUCKETS * 60, 60) == 60
    with pytest.raises(ApiError, match=f"over {MAX_BUCKETS} buckets") as raised:
        _bucket_seconds(MAX_BUCKETS * 60 + 1, 60)
    assert raised.value.status == 400
