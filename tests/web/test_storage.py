"""Storage and serving: migrations match the models, live windows by time bucket, binding rules, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Config

from emolens.cli.serve import is_loopback
from emolens.storage import AnalysisRecord, add_live_frame, make_engine, repository, upgrade
from emolens.storage.models import Base
from emolens.web.config import load_config

SCORES = {"happy": 0.75, "sad": 0.25}


def test_migrations_build_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


@pytest.mark.parametrize(("before", "new_columns"), [("0002", "filename, thumbnail"), ("0003", "class_balance")])
def test_migrations_keep_stored_analyses(database_url: str, before: str, new_columns: str) -> None:
    """A row stored before a migration keeps its values, and the columns the migration adds are empty (0003: the
    file name and thumbnail; 0004: the class balance)."""
    engine = make_engine(database_url)
    upgrade(engine, before)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO analyses (created_ms, source, frames, faces, elapsed_ms, tta, model, "
                             "detector) VALUES (1000, 'upload', 1, 2, 5.0, false, 'm.onnx', 'det')")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT source, faces, {new_columns} FROM analyses").all()
    engine.dispose()
    added = new_columns.count(",") + 1
    assert [tuple(r) for r in rows] == [("upload", 2, *[None] * added)]


def frame(created_ms: int, session: str = "s", tta: bool = False) -> AnalysisRecord:
    tally = repository.Tally()
    tally.add("happy", SCORES)
    return AnalysisRecord(source="webcam", session=session, model="m.onnx", detector="det", tta=tta,
                          elapsed_ms=10.0, tally=tally, created_ms=created_ms)


def test_live_windows_are_time_buckets_that_frames_add_to(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    for t in (10_000, 10_500, 19_999, 20_000, 20_001):  # two 10 s windows: frames 3 and 2
        add_live_frame(engine, frame(t), 10_000)
    add_live_frame(engine, frame(10_100, tta=True), 10_000)  # another setting: a window of its own
    add_live_frame(engine, frame(10_100, session="other"), 10_000)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT created_ms, session, tta, frames, faces, elapsed_ms FROM analyses "
                                    "ORDER BY created_ms, session, tta").all()
        tallies = conn.exec_driver_sql("SELECT analysis_id, count, score_sum FROM emotion_tallies "
                                       "WHERE label = 'sad' ORDER BY analysis_id").all()
    engine.dispose()
    assert [tuple(r[:5]) for r in rows] == [(10_000, "other", False, 1, 1), (10_000, "s", False, 3, 3),
                                            (10_000, "s", True, 1, 1), (20_000, "s", False, 2, 2)]
    assert all(r.elapsed_ms == pytest.approx(10.0) for r in rows)
    assert tallies[0].count == 0 and tallies[0].score_sum == pytest.approx(0.75)


def test_rows_of_the_same_moment_come_newest_first(database_url: str) -> None:
    """Newest first means the later stored of two rows with the same time too (ties broken by id, descending)."""
    engine = make_engine(database_url)
    upgrade(engine)
    ids = [repository.record(engine, frame(t)) for t in (5_000, 5_000, 5_999, 5_000)]
    total, rows = repository.recent(engine, repository.Filters(0, 10_000), limit=10, offset=0)
    engine.dispose()
    assert total == 4 and [row["id"] for row in rows] == [ids[2], ids[3], ids[1], ids[0]]


def test_pages_by_key_neither_repeat_nor_skip_rows_stored_between_pages(database_url: str) -> None:
    """Paging by (time, id): rows stored between two pages, newer than the first (uploads committing meanwhile)
    or at the time of its last row, neither shift the next page (by offset, its first row came again) nor hide a
    row; ties of time are paged by id."""
    engine = make_engine(database_url)
    upgrade(engine)
    ids = [repository.record(engine, frame(t)) for t in (1_000, 2_000, 2_000, 3_000, 4_000)]
    everything = repository.Filters(0, 10_000)
    first = repository.older(engine, everything, 2)
    assert [row["id"] for row in first] == [ids[4], ids[3]]
    repository.record(engine, frame(9_000))
    repository.record(engine, frame(9_000))
    repository.record(engine, frame(3_000))  # the time of the last row sent, but a newer id: it was not due
    last = first[-1]
    second = repository.older(engine, everything, 2, (last["created_ms"], last["id"]))
    third = repository.older(engine, everything, 2, (second[-1]["created_ms"], second[-1]["id"]))
    engine.dispose()
    assert [row["id"] for row in second] == [ids[2], ids[1]]
    assert [row["id"] for row in third] == [ids[0]]
    assert second[0]["counts"] == {"happy": 1}


def test_tally_rows() -> None:
    tally = repository.Tally()
    tally.add("happy", SCORES)
    tally.add("sad", {"happy": 0.1, "sad": 0.9})
    rows = {row["label"]: row for row in tally.rows(7)}
    assert rows["happy"] == {"analysis_id": 7, "label": "happy", "count": 1, "score_sum": pytest.approx(0.85)}
    assert rows["sad"]["count"] == 1 and tally.faces == 2


@pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                             ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_settings_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "emolens.toml"
    settings.write_text(f'data_dir = "{tmp_path}"\nmax_upload_mb = 2\nstore_images = true\n')
    monkeypatch.setenv("EMOLENS_CONFIG", str(settings))
    monkeypatch.setenv("EMOLENS_MAX_UPLOAD_MB", "5")
    config = Config(str(tmp_path))
    load_config(config)
    assert config["STORE_IMAGES"] is True and config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'emolens.db'}"
