"""The app closes what it opens: the storage threads and connections, and the analyzers it loaded (never one it
was given), when it is closed, when it is dropped, and when a gunicorn worker stops."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from flask import Flask

from emolens.cli.gunicorn_app import Gunicorn
from emolens.errors import EmolensError, StorageError
from emolens.storage import Filters, recent
from emolens.web import create_app
from emolens.web.app import close_app
from emolens.web.services import Services


def _own_app(tmp_path: Path) -> Flask:
    """An app that loads its own analyzers (the default detector, and haar when a request asks for it)."""
    return create_app({"DATA_DIR": str(tmp_path), "TESTING": True, "ALLOWED_DETECTORS": "haar"})


def _assert_closed(services: Services, analyzers: list[Any], image: np.ndarray) -> None:
    with pytest.raises(StorageError, match="closed"):
        services.storage.call(recent, Filters(0, 1), 1, 0)
    assert services.storage.engine.pool.checkedin() == 0  # no connection left open
    for analyzer in analyzers:
        with pytest.raises(ValueError, match="closed"):
            analyzer.analyze(image)


@pytest.fixture(scope="module")
def image(face_photo: Path) -> np.ndarray:
    return cv2.imread(str(face_photo))


def test_closing_the_app_closes_storage_and_the_analyzers_it_loaded(tmp_path: Path, image: np.ndarray) -> None:
    app = _own_app(tmp_path)
    services: Services = app.extensions["emolens"]
    with app.app_context():
        loaded = [services.analyzer, services.analyzer_for("haar")]
    assert all(analyzer.analyze(image) for analyzer in loaded)  # they work until then
    services.storage.call(recent, Filters(0, 1), 1, 0)
    assert services.storage.engine.pool.checkedin() == 1
    close_app(app)
    _assert_closed(services, loaded, image)
    close_app(app)  # idempotent


def test_an_app_closes_when_dropped_but_never_the_analyzer_it_was_given(tmp_path: Path, image: np.ndarray,
                                                                       analyzer) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, analyzer=analyzer)
    services: Services = app.extensions["emolens"]
    del app
    gc.collect()
    _assert_closed(services, [], image)
    assert analyzer.analyze(image)  # another app's, or the caller's, to close


def test_a_stopping_gunicorn_worker_closes_its_app(tmp_path: Path, image: np.ndarray) -> None:
    made: list[Flask] = []
    server = Gunicorn(lambda: made.append(_own_app(tmp_path)) or made[-1], {"bind": "127.0.0.1:0"})
    server.load()  # what each worker does as it starts
    services: Services = made[0].extensions["emolens"]
    server.cfg.worker_exit(None, None)  # what gunicorn calls in the worker as it stops
    _assert_closed(services, [services.analyzer], image)


def test_an_app_that_cannot_load_its_model_leaves_no_database_connection_open(tmp_path: Path) -> None:
    """SQLite removes the write-ahead log when its last connection closes: it is gone once create_app failed."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(EmolensError) as failed:
        create_app({"DATA_DIR": str(tmp_path), "MODEL_PATH": str(broken)})
    assert failed.value is not None  # the failure (and with it the half-built app) is still referenced here
    assert (tmp_path / "emolens.db").exists() and not (tmp_path / "emolens.db-wal").exists()
