"""Fixtures for the web app: one analyzer for the whole run, a fresh database per app, real photos."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from emolens.web import create_app

ONE_FACE = "deepface_img1.jpg"
"""A photo with one clear frontal face."""


@pytest.fixture(scope="session")
def analyzer():
    from emolens import Analyzer

    return Analyzer()


@pytest.fixture()
def app(analyzer, tmp_path: Path) -> Flask:
    return create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, analyzer=analyzer)


@pytest.fixture()
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


def jpeg_640x480(path: Path) -> bytes:
    """The photo letterboxed into 640x480 and JPEG-encoded (the benchmarks' and the live page's frame size)."""
    image = cv2.imread(str(path))
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((480, 640, 3), np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    return cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


@pytest.fixture(scope="session")
def face_photo(photos_dir: Path) -> Path:
    return photos_dir / ONE_FACE


@pytest.fixture(scope="session")
def face_jpeg(face_photo: Path) -> bytes:
    return jpeg_640x480(face_photo)
