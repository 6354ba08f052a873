"""What the history page and the page settings rest on: file names kept (safely), thumbnails only when asked
for, and the detector, minimum face score and TTA chosen per request within what the server allows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from emolens.errors import ConfigError
from emolens.web import create_app
from emolens.web.schemas import AnalysesPage, AnalyzeResponse, ErrorOut, SettingsOut
from emolens.web.uploads import MAX_FILENAME, clean_filename

GROUP = "facenet_multiface.jpg"
"""A photo of six people."""


def post(client: FlaskClient, data: bytes, name: str, **fields: str):
    return client.post("/api/v1/analyze", data={"image": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def make_app(analyzer, database_url: str, tmp_path: Path, **config) -> Flask:
    return create_app({"DATA_DIR": str(tmp_path), "DATABASE_URL": database_url, "TESTING": True, **config},
                      analyzer=analyzer)


@pytest.mark.parametrize(("given", "kept"), [
    ("C:\\Users\\me\\holiday\x07 photo.jpg", "holiday photo.jpg"),
    ("../../etc/passwd", "passwd"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override would show it as 'invoiceexe.jpg'
    ("..", None), ("", None), ("\x00\x1f", None),
])
def test_clean_filename(given: str, kept: str | None) -> None:
    assert clean_filename(given) == kept


def test_long_filename_keeps_its_extension() -> None:
    name = clean_filename("x" * 400 + ".jpeg")
    assert name is not None and len(name) == MAX_FILENAME and name.endswith("….jpeg")


def test_filename_is_stored_listed_and_exported(client: FlaskClient, face_jpeg: bytes) -> None:
    body = AnalyzeResponse.model_validate(post(client, face_jpeg, "/home/me/=cmd|calc\x07.jpg", source="upload").json)
    assert body.filename == "=cmd|calc.jpg"
    raw = client.post("/api/v1/analyze", data=face_jpeg, content_type="image/jpeg").json
    assert raw["filename"] is None
    page = AnalysesPage.model_validate(client.get("/api/v1/analyses").json)
    assert [item.filename for item in page.items] == [None, "=cmd|calc.jpg"]
    assert not any(item.has_thumbnail for item in page.items)  # thumbnails are off by default
    assert client.get(f"/api/v1/analyses/{body.id}/thumbnail").status_code == 404
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/analyses.csv").get_data(as_text=True))))
    assert [r["filename"] for r in rows] == ["", "'=cmd|calc.jpg"]  # never a formula in a spreadsheet


def test_thumbnails_when_turned_on(analyzer, database_url: str, tmp_path: Path, photos_dir: Path) -> None:
    app = make_app(analyzer, database_url, tmp_path, STORE_THUMBNAILS=True)
    with app.test_client() as client:
        photo = post(client, (photos_dir / GROUP).read_bytes(), GROUP, source="upload").json
        frame = client.post("/api/v1/analyze?source=webcam&session=s", data=(photos_dir / GROUP).read_bytes(),
                            content_type="image/jpeg")
        assert frame.status_code == 200
        [item] = [i for i in client.get("/api/v1/analyses").json["items"] if i["source"] == "upload"]
        assert item["has_thumbnail"] and not item["has_image"]
        response = client.get(f"/api/v1/analyses/{photo['id']}/thumbnail")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    thumb = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
    assert max(thumb.shape[:2]) == 160 and thumb.shape[1] / thumb.shape[0] == pytest.approx(1200 / 630, rel=0.02)
    assert len(response.data) < 20_000


def test_settings_list_the_allowed_detectors(analyzer, database_url: str, tmp_path: Path, client: FlaskClient) -> None:
    default = SettingsOut.model_validate(client.get("/api/v1/settings").json)
    assert default.detectors == [analyzer.detector_name] and not default.store_thumbnails
    app = make_app(analyzer, database_url, tmp_path, ALLOWED_DETECTORS="haar, blazeface", STORE_THUMBNAILS=True)
    with app.test_client() as other:
        settings = SettingsOut.model_validate(other.get("/api/v1/settings").json)
    assert settings.detectors == [analyzer.detector_name, "haar", "blazeface"] and settings.store_thumbnails
    assert "/api/v1/settings" in client.get("/api/v1/openapi.json").json["paths"]


def test_unknown_allowed_detector_stops_the_app_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ALLOWED_DETECTORS: .*unknown face detector 'nope'"):
        create_app({"DATA_DIR": str(tmp_path), "ALLOWED_DETECTORS": "haar,nope"})


@pytest.mark.parametrize(("fields", "words"), [
    ({"detector": "haar"}, ("not allowed", "blazeface-multi")),
    ({"detector": "nope<script>"}, ("detector",)),
    ({"min_score": "1.5"}, ("min_score",)), ({"min_score": "-0.1"}, ("min_score",)),
    ({"min_score": "high"}, ("min_score",)),
])
def test_disallowed_detector_or_threshold_is_a_400(client: FlaskClient, face_jpeg: bytes, fields: dict,
                                                  words: tuple[str, ...]) -> None:
    response = post(client, face_jpeg, "face.jpg", **fields)
    assert response.status_code == 400, response.json
    body = ErrorOut.model_validate(response.json)
    assert all(word in body.error for word in words), body.error
    assert client.get("/api/v1/analyses").json["total"] == 0  # nothing stored


def test_allowed_detector_and_min_score_are_used(analyzer, database_url: str, tmp_path: Path,
                                                 photos_dir: Path) -> None:
    app = make_app(analyzer, database_url, tmp_path, ALLOWED_DETECTORS=["haar"])
    group = (photos_dir / GROUP).read_bytes()
    with app.test_client() as client:
        everyone = post(client, group, GROUP).json
        scores = sorted(face["detection_score"] for face in everyone["faces"])
        cut = (scores[0] + scores[1]) / 2  # leaves out the least sure face
        fewer = post(client, group, GROUP, min_score=str(cut)).json
        haar = post(client, group, GROUP, detector="haar", tta="true").json
        items = {i["id"]: i for i in client.get("/api/v1/analyses").json["items"]}
    assert len(everyone["faces"]) == 6 and len(fewer["faces"]) == 5
    assert all(face["detection_score"] >= cut for face in fewer["faces"])
    assert items[fewer["id"]]["faces"] == 5 and sum(items[fewer["id"]]["counts"].values()) == 5
    assert haar["detector"] == "haar" and haar["tta"] and items[haar["id"]]["detector"] == "haar"
    assert everyone["detector"] == analyzer.detector_name
