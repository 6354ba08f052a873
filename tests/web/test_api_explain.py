"""The API's ``explain=true``: an occlusion grid per face, in the OpenAPI document, never stored."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from emolens.emotion.explain import CELLS
from emolens.storage.models import Analysis
from emolens.web.schemas import AnalyzeResponse
from emolens.web.services import services


def test_explain_returns_a_grid_per_face_and_stores_none(app: Flask, client: FlaskClient, face_photo: Path) -> None:
    response = client.post("/api/v1/analyze", data={"image": (io.BytesIO(face_photo.read_bytes()), "p.jpg"),
                                                     "explain": "true", "source": "upload"},
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    body = AnalyzeResponse.model_validate(response.json)
    (face,) = body.faces
    assert face.explanation is not None and face.explanation.label == face.emotion
    assert len(face.explanation.grid) == CELLS and all(len(row) == CELLS for row in face.explanation.grid)
    x, y, w, h = face.box
    cx, cy = face.explanation.region.center
    assert x < cx < x + w and y < cy < y + h and face.explanation.region.side >= max(w, h)
    with app.app_context(), services().storage.engine.connect() as conn:
        (stored,) = conn.execute(select(Analysis.result).where(Analysis.id == body.id)).scalar_one()
    assert stored["emotion"] == face.emotion and "explanation" not in stored
    plain = client.post("/api/v1/analyze", data=face_photo.read_bytes(), content_type="image/jpeg").json
    assert "explanation" not in plain["faces"][0]


def test_explain_is_documented(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    form = doc["paths"]["/api/v1/analyze"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "explain" in form["properties"]
    assert "ExplanationOut" in doc["components"]["schemas"]
