"""Storage and serving: migrations match the models, live frames aggregate into bounded windows and survive
shutdown, binding rules, settings."""

from __future__ import annotations

import sqlite3
import urllib.request
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Config

from emolens.cli.serve import is_loopback
from emolens.storage import AnalysisRecord, LiveAggregator, make_engine, repository, upgrade
from emolens.storage.models import Base
from emolens.web.config import load_config
from emolens.web.testing import serving

SCORES = {"happy": 0.75, "sad": 0.25}


def test_migrations_build_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def frames(live: LiveAggregator, session: str, n: int) -> None:
    for _ in range(n):
        live.add(session, "m.onnx", "det", False, 10.0, [("happy", SCORES)])


def test_window_sums_frames_into_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[AnalysisRecord] = []
    clock = iter(range(0, 100_000, 100))  # 100 ms per call
    monkeypatch.setattr("emolens.storage.live.now_ms", lambda: next(clock))
    live = LiveAggregator(written.append, window_s=1.0)
    frames(live, "a", 25)  # 2.5 s of frames: two full windows closed, one open
    assert [record.frames for record in written] == [10, 10]
    live.flush()
    assert [record.frames for record in written] == [10, 10, 5]
    assert all(r.source == "webcam" and r.result is None and r.image is None for r in written)
    assert written[0].tally.counts == {"happy": 10} and written[0].tally.score_sums["sad"] == pytest.approx(2.5)


def test_open_sessions_are_bounded() -> None:
    written: list[AnalysisRecord] = []
    live = LiveAggregator(written.append, window_s=3600, max_sessions=3)
    for session in "abcde":
        frames(live, session, 1)
    assert [record.session for record in written] == ["a", "b"]


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


def test_open_live_windows_are_written_at_shutdown(tmp_path: Path, face_jpeg: bytes) -> None:
    with serving(env={"EMOLENS_DATA_DIR": str(tmp_path), "EMOLENS_LIVE_WINDOW_S": "3600"}) as url:
        for _ in range(3):
            request = urllib.request.Request(f"{url}/api/v1/analyze?source=webcam&session=s", data=face_jpeg,
                                             headers={"Content-Type": "image/jpeg"})
            urllib.request.urlopen(request, timeout=30).close()
    with sqlite3.connect(tmp_path / "emolens.db") as db:
        assert db.execute("SELECT source, session, frames, faces FROM analyses").fetchall() == [("webcam", "s", 3, 3)]


def test_settings_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "emolens.toml"
    settings.write_text(f'data_dir = "{tmp_path}"\nmax_upload_mb = 2\nstore_images = true\n')
    monkeypatch.setenv("EMOLENS_CONFIG", str(settings))
    monkeypatch.setenv("EMOLENS_MAX_UPLOAD_MB", "5")
    config = Config(str(tmp_path))
    load_config(config)
    assert config["STORE_IMAGES"] is True and config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'emolens.db'}"
