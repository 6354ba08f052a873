"""The class balance through the web app, on SQLite and PostgreSQL: chosen per request, refused with a 400 when not
allowed, recorded with each stored analysis (migration 0004), listed, exported, filtered and counted apart."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask import Config
from flask.testing import FlaskClient

from emolens.emotion.classifier import EmotionClassifier
from emolens.errors import ConfigError
from emolens.pipeline.analyzer import Analyzer
from emolens.storage import AnalysisRecord, add_live_frame, make_engine, repository, upgrade
from emolens.web import create_app
from emolens.web.config import load_config
from emolens.web.schemas import AnalysesPage, AnalyzeResponse, ErrorOut, Health, SettingsOut, StatsResponse


def analyze(client: FlaskClient, image: bytes, **fields: str):
    return client.post("/api/v1/analyze", data={"image": (io.BytesIO(image), "face.jpg"), **fields},
                       content_type="multipart/form-data")


def error(response, status: int) -> str:
    assert response.status_code == status, response.data
    return ErrorOut.model_validate(response.json).error


def test_a_request_chooses_the_class_balance_and_it_is_stored(client: FlaskClient, face_jpeg: bytes) -> None:
    chosen = AnalyzeResponse.model_validate(analyze(client, face_jpeg, class_balance="1").json, extra="forbid")
    default = AnalyzeResponse.model_validate(analyze(client, face_jpeg).json, extra="forbid")
    assert (chosen.class_balance, default.class_balance) == (1.0, 0.5)
    assert chosen.faces[0].scores != default.faces[0].scores  # the same face, scored with another prior
    page = AnalysesPage.model_validate(client.get("/api/v1/analyses").json, extra="forbid")
    assert {item.id: item.class_balance for item in page.items} == {chosen.id: 1.0, default.id: 0.5}
    only = AnalysesPage.model_validate(client.get("/api/v1/analyses?class_balance=1").json)
    assert [item.id for item in only.items] == [chosen.id]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/analyses.csv").get_data(as_text=True))))
    assert sorted(r["class_balance"] for r in rows) == ["0.5", "1"]
    stats = StatsResponse.model_validate(client.get("/api/v1/stats").json, extra="forbid")
    assert {k: v.analyses for k, v in stats.by_class_balance.items()} == {"0.5": 1, "1": 1}
    filtered = StatsResponse.model_validate(client.get("/api/v1/stats?class_balance=0.5").json)
    assert filtered.totals.analyses == 1 and list(filtered.by_class_balance) == ["0.5"]


@pytest.mark.parametrize(("value", "words"), [("2", "less than or equal to 1"), ("-0.5", "greater than or equal"),
                                              ("neutral", "valid number")])
def test_a_bad_class_balance_is_a_400(client: FlaskClient, face_jpeg: bytes, value: str, words: str) -> None:
    assert words in error(analyze(client, face_jpeg, class_balance=value), 400)
    assert "class_balance" in error(client.get(f"/api/v1/stats?class_balance={value}"), 400)


def test_the_server_setting_and_its_allowed_values(make_app, database_url: str, face_jpeg: bytes) -> None:
    client = make_app(DATABASE_URL=database_url, CLASS_BALANCE=1.0, ALLOWED_CLASS_BALANCES=[0, 1]).test_client()
    settings = SettingsOut.model_validate(client.get("/api/v1/settings").json, extra="forbid")
    assert (settings.class_balance, settings.class_balances) == (1.0, [0.0, 1.0])
    assert AnalyzeResponse.model_validate(analyze(client, face_jpeg).json).class_balance == 1.0
    assert AnalyzeResponse.model_validate(analyze(client, face_jpeg, class_balance="0").json).class_balance == 0.0
    assert "not allowed on this server; choose one of: 0, 1" in error(analyze(client, face_jpeg, class_balance="0.5"),
                                                                    400)
    only = make_app(DATABASE_URL=database_url, ALLOWED_CLASS_BALANCES=[1]).test_client()  # and the default, 0.5
    assert SettingsOut.model_validate(only.get("/api/v1/settings").json).class_balances == [0.5, 1.0]
    assert AnalyzeResponse.model_validate(analyze(only, face_jpeg, class_balance="0.5").json).class_balance == 0.5
    health = Health.model_validate(client.get("/api/v1/health").json, extra="forbid")
    stored = EmotionClassifier().model_info.calibration
    assert health.model.calibration.class_balance == 1.0 and health.model.calibration.default == 0.5
    assert tuple(health.model.calibration.logit_bias) == stored.points[-1].logit_bias
    assert [p["class_balance"] for p in health.model.calibration.points] == [0, 0.25, 0.5, 0.75, 1]


def test_by_default_the_model_s_points_are_offered(client: FlaskClient, face_jpeg: bytes) -> None:
    settings = SettingsOut.model_validate(client.get("/api/v1/settings").json, extra="forbid")
    assert (settings.class_balance, settings.class_balances) == (0.5, [0.0, 0.25, 0.5, 0.75, 1.0])
    between = AnalyzeResponse.model_validate(analyze(client, face_jpeg, class_balance="0.6").json)
    assert between.class_balance == 0.6  # between stored points: interpolated


def test_a_model_without_stored_balances_refuses_others_with_a_400(old_format_analyzer: Analyzer, tmp_path: Path,
                                                                  face_jpeg: bytes) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, analyzer=old_format_analyzer)
    try:
        client = app.test_client()
        assert "class balance 0.5 only" in error(analyze(client, face_jpeg, class_balance="1"), 400)
        assert AnalyzeResponse.model_validate(analyze(client, face_jpeg, class_balance="0.5").json).class_balance == 0.5
        assert SettingsOut.model_validate(client.get("/api/v1/settings").json).class_balances == [0.5]
    finally:
        app.extensions["emolens"].storage.engine.dispose()


def test_a_server_default_the_model_lacks_stops_the_app_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="class_balance must be a number from 0"):
        create_app({"DATA_DIR": str(tmp_path), "CLASS_BALANCE": 1.5})



def test_live_windows_keep_class_balances_apart(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    for balance in (None, 0.5, 0.5, 1.0):
        tally = repository.Tally()
        tally.add("happy", {"happy": 0.75, "sad": 0.25})
        add_live_frame(engine, AnalysisRecord(source="webcam", session="s", model="m.onnx", detector="det", tta=False,
                                              elapsed_ms=10.0, tally=tally, created_ms=10_000,
                                              class_balance=balance), 10_000)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT class_balance, frames FROM analyses ORDER BY class_balance").all()
    engine.dispose()
    assert sorted((tuple(r) for r in rows), key=str) == sorted([(None, 1), (0.5, 2), (1.0, 1)], key=str)


def test_allowed_class_balances_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOLENS_ALLOWED_CLASS_BALANCES", "0, 0.5,1")
    config = Config(".")
    load_config(config)
    assert config["ALLOWED_CLASS_BALANCES"] == [0.0, 0.5, 1.0] and config["CLASS_BALANCE"] is None
    monkeypatch.setenv("EMOLENS_ALLOWED_CLASS_BALANCES", "0,2")
    with pytest.raises(ConfigError, match="ALLOWED_CLASS_BALANCES"):
        load_config(Config("."))
