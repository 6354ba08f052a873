"""Live sessions with no state in the server: frames answered 200 are stored, whichever app instance serves
them, and a storage failure is a 503 that loses nothing acknowledged (issue 8, findings 1 and 6)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, make_url, text
from support.web import FreezableProxy

from emolens.web import create_app

FRAME = "/api/v1/analyze?source=webcam&session=cam"


def post_frame(app: Flask, data: bytes) -> int:
    return app.test_client().post(FRAME, data=data, content_type="image/jpeg").status_code


def stored_frames(app: Flask) -> int:
    stats = app.test_client().get("/api/v1/stats?session=cam")
    assert stats.status_code == 200, stats.json
    return stats.json["totals"]["frames"]


@contextlib.contextmanager
def writes_blocked(database_url: str) -> Iterator[None]:
    """Another connection holds the write lock of every table the server writes until the block ends."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN EXCLUSIVE")
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE analyses, emotion_tallies, alembic_version IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def test_frames_served_by_many_instances_add_up_exactly(analyzer, database_url: str, tmp_path: Path,
                                                        face_jpeg: bytes) -> None:
    """Three app instances (as three workers or hosts) share one database: every frame answered 200 is in
    the statistics at once, whichever instance is asked."""
    apps = [create_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}, analyzer=analyzer)
            for _ in range(3)]
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda i: post_frame(apps[i % 3], face_jpeg), range(60)))
    assert codes == [200] * 60
    assert [stored_frames(app) for app in apps] == [60, 60, 60]
    analyses = apps[1].test_client().get("/api/v1/analyses?session=cam").json
    assert sum(item["frames"] for item in analyses["items"]) == 60 and analyses["total"] <= 2  # <= 2 windows


@pytest.mark.slow  # waits out storage timeouts
def test_storage_failure_is_503_and_loses_nothing_acknowledged(analyzer, database_url: str, tmp_path: Path,
                                                               face_jpeg: bytes,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": database_url, "STORAGE_TIMEOUT_S": 0.5},
                     analyzer=analyzer)
    client = app.test_client()
    acknowledged = sum(post_frame(app, face_jpeg) == 200 for _ in range(3))
    with writes_blocked(database_url):
        failed = client.post(FRAME, data=face_jpeg, content_type="image/jpeg")
        assert failed.status_code == 503 and "storage" in failed.json["error"], failed.json
        assert failed.headers["Retry-After"]
        upload = client.post("/api/v1/analyze", data=face_jpeg, content_type="image/jpeg")
        assert upload.status_code == 503 and "storage" in upload.json["error"]
        analysed = []
        monkeypatch.setattr(analyzer, "analyze", lambda *a, **k: analysed.append(1))
        assert client.post(FRAME, data=face_jpeg, content_type="image/jpeg").status_code == 503
        assert not analysed, "storage is known to be down: no analysis should run"
        monkeypatch.undo()
        started = time.monotonic()
        health = client.get("/api/v1/health")
        assert time.monotonic() - started < 1.0
        assert health.status_code == 503 and not health.json["database"]["ok"]
        assert "storage" in health.json["database"]["error"]
    acknowledged += sum(post_frame(app, face_jpeg) == 200 for _ in range(2))
    assert acknowledged == 5 and stored_frames(app) == 5
    assert client.get("/api/v1/health").status_code == 200


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.slow  # waits out a storage timeout
def test_storage_is_known_back_without_traffic(analyzer, database_url: str, tmp_path: Path,
                                               face_jpeg: bytes) -> None:
    """A worker that gets no requests after an outage knows storage is back within a second or so (a
    background probe), so its next requests are not refused with the old error. Before, the failure stayed
    until a request probed, and requests arriving meanwhile were refused with it."""
    url = make_url(database_url)
    proxy = FreezableProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": proxied, "STORAGE_TIMEOUT_S": 1.0},
                     analyzer=analyzer)
    storage = app.extensions["emolens"].storage
    try:
        proxy.frozen.set()
        assert post_frame(app, face_jpeg) == 503
        assert storage.failure and "did not answer" in storage.failure
        proxy.frozen.clear()
        deadline = time.monotonic() + 3  # RECHECK_S (0.5 s) and a probe, with room for a loaded machine
        while storage.failure is not None:
            assert time.monotonic() < deadline, f"still refusing with: {storage.failure}"
            time.sleep(0.1)
        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(lambda _: post_frame(app, face_jpeg), range(8))) == [200] * 8
    finally:
        proxy.frozen.clear()
        storage.engine.dispose()
        proxy.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.slow  # waits out storage timeouts
def test_frozen_database_costs_a_bounded_wait_and_loses_nothing(analyzer, database_url: str, tmp_path: Path,
                                                                face_jpeg: bytes) -> None:
    """A database server that stops answering (SIGSTOP; here a frozen proxy): health answers within a second,
    frames get 503 after the storage timeout instead of hanging, nothing is stored that was answered 503, and
    service comes back by itself."""
    url = make_url(database_url)
    proxy = FreezableProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": proxied, "STORAGE_TIMEOUT_S": 1.0},
                     analyzer=analyzer)
    client = app.test_client()
    acknowledged = post_frame(app, face_jpeg) == 200
    proxy.frozen.set()
    started = time.monotonic()
    assert post_frame(app, face_jpeg) == 503  # its write is given up on: it must never commit
    assert time.monotonic() - started < 3.0
    started = time.monotonic()
    health = client.get("/api/v1/health")
    assert health.status_code == 503 and time.monotonic() - started < 1.0
    started = time.monotonic()
    assert post_frame(app, face_jpeg) == 503  # storage known down: refused after a probe, not analysed
    assert time.monotonic() - started < 1.5
    proxy.frozen.clear()
    deadline = time.monotonic() + 10
    while client.get("/api/v1/health").status_code != 200:
        assert time.monotonic() < deadline, "storage did not come back"
        time.sleep(0.2)
    acknowledged += post_frame(app, face_jpeg) == 200
    time.sleep(0.5)  # writes given up on have finished by now (and must not have committed)
    assert acknowledged == 2 and stored_frames(app) == 2
    proxy.close()


def test_live_page_carries_the_tracking_constants(make_app, tmp_path: Path) -> None:
    """The browser's tracker (tracker.js) takes its constants from the page, which has them from the one place
    the Python tracker has them: the two cannot drift."""
    import html
    import json
    import re

    from emolens.pipeline import tracking

    page = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'emolens.db'}").test_client().get("/live")
    assert page.status_code == 200
    found = re.search(r'data-tracking="([^"]*)"', page.get_data(as_text=True))
    assert found is not None
    assert json.loads(html.unescape(found.group(1))) == {
        "smoothingS": tracking.FaceTracker.smoothing_s, "iouThreshold": tracking.FaceTracker.iou_threshold,
        "forgetS": tracking.FaceTracker.forget_s}
