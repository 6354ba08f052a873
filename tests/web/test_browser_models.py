"""The live page's browser mode, server side: the ONNX graphs the browser runs (built from the bundled models, and
the same computation as the Python runtime's), the model description and files it loads, and the results-only
endpoint, checked as strictly as an upload."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from flask import Flask
from flask.testing import FlaskClient
from support.data import REPO
from support.helpers import load_tool
from support.web import letterbox
from test_api import assert_error, valid

from emolens import Analyzer
from emolens.emotion.classifier import default_model_path
from emolens.emotion.metadata import Calibration
from emolens.emotion.preprocessing import Preprocessing, normalize
from emolens.faces.blazeface import BlazeFaceModel, shrink
from emolens.web import create_app
from emolens.web.schemas import BrowserModelOut, LiveResultsOut

GRAPHS = REPO / "src" / "emolens" / "web" / "static" / "models"
RESULTS = "/api/v1/live/results"


def _session(name: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(GRAPHS / name), providers=["CPUExecutionProvider"])


def test_committed_graphs_are_what_the_tool_builds() -> None:
    pytest.importorskip("onnx", reason="the train extra builds the graphs")
    tool = load_tool("build_browser_graphs")
    for name, build in tool.GRAPHS.items():
        assert (GRAPHS / name).read_bytes() == build().SerializeToString(), f"{name}: run tools/build_browser_graphs.py"


def test_detector_graph_decodes_as_the_python_detector(face_photo: Path) -> None:
    """The graph's scaling and decoding give the Python detector's candidates on a real frame (the same float32
    operations in another order: within a few float32 ulps of pixel coordinates)."""
    model = BlazeFaceModel("short")
    frame = letterbox(face_photo)
    boxes, scores, points = model.candidates(frame, 0.5)
    size = model.variant.size
    pixels = np.zeros((1, size, size, 3), np.float32)  # the letterbox the Python model builds: RGB at the top left
    pixels[0, :96] = cv2.cvtColor(shrink(frame, 128, 96), cv2.COLOR_BGR2RGB)
    outputs = _session("blazeface_short.onnx").run(None, {"pixels": pixels})
    out = dict(zip(["boxes", "scores", "points"], outputs, strict=True))
    keep = out["scores"] >= 0.5
    assert keep.sum() == len(scores) >= 1
    scale = 0.2  # 128 / 640
    np.testing.assert_allclose(out["scores"][keep], scores, rtol=1e-5)
    np.testing.assert_allclose(out["boxes"][keep] / scale, boxes, atol=1e-3)
    np.testing.assert_allclose(out["points"][keep].reshape(-1, 6, 2) / scale, points, atol=1e-3)


def test_input_and_calibration_graphs_compute_the_python_runtime() -> None:
    rng = np.random.default_rng(0)
    prep = Preprocessing(input_size=96, color="gray", mean=0.5, std=0.25)
    crops = rng.integers(0, 256, (3, 96, 96), dtype=np.uint8)
    got = _session("emotion_input.onnx").run(None, {"crops": crops[..., None].astype(np.float32),
                                                    "mean": np.float32([0.5]), "std": np.float32([0.25])})[0]
    np.testing.assert_allclose(got, normalize(crops, prep), atol=1e-6)
    rgb = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    got = _session("emotion_input.onnx").run(None, {"crops": rgb.astype(np.float32), "mean": np.float32([0.5]),
                                                    "std": np.float32([0.5])})[0]
    np.testing.assert_allclose(got, normalize(rgb, Preprocessing(64, "rgb")), atol=1e-6)
    probs = rng.dirichlet(np.ones(7), 5).astype(np.float32)
    calibration = Calibration(0.5, (0.1, 0.8, -0.1, -0.2, 0.0, 0.3, -0.5))
    got = _session("calibration.onnx").run(None, {"probabilities": probs, "bias": np.float32(calibration.logit_bias),
                                                  "temperature": np.float32([0.5])})[0]
    np.testing.assert_allclose(got, calibration.apply(probs), atol=2e-6)  # float32 softmax of logits up to ~60


@pytest.fixture()
def sqlite_app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'emolens.db'}")


def test_model_description_and_files_are_cached_with_validators(sqlite_app: Flask, analyzer) -> None:
    client = sqlite_app.test_client()
    info = valid(client.get("/api/v1/model"), BrowserModelOut)
    assert info.labels == list(analyzer.labels)
    assert info.calibration.temperature == analyzer.model_info.calibration.temperature
    assert info.calibration.bias == list(analyzer.model_info.calibration.logit_bias)
    assert info.calibration.class_balance == analyzer.model_info.calibration.class_balance == 0.5
    assert info.preprocessing["input_size"] == analyzer.model_info.preprocessing.input_size
    assert info.detector.name == "blazeface-short" and info.detector.min_score == 0.5
    status, data, headers = fetch(client, info.url)
    assert status == 200 and data == analyzer.model_path.read_bytes() and info.size_bytes == len(data)
    assert headers["ETag"] and headers["Last-Modified"] and "no-cache" in headers["Cache-Control"]
    assert fetch(client, info.url, {"If-None-Match": headers["ETag"]})[0] == 304
    for url in (info.detector.url, *info.graphs.values()):
        status, data, headers = fetch(client, url)
        assert status == 200 and data and headers["ETag"]
        assert fetch(client, url, {"If-None-Match": headers["ETag"]})[0] == 304


def test_model_description_gives_the_calibration_of_the_class_balance_asked_for(sqlite_app: Flask, analyzer) -> None:
    client = sqlite_app.test_client()
    stored = analyzer.model_info.calibration
    described = {}
    for asked in (1.0, 0.6, 0.5):  # a stored point, one interpolated between two, the default
        info = valid(client.get(f"/api/v1/model?class_balance={asked:g}"), BrowserModelOut)
        expected = stored.at(asked)
        assert (info.calibration.temperature, info.calibration.bias, info.calibration.class_balance) == \
            (expected.temperature, list(expected.logit_bias), asked)
        described[asked] = info.calibration.bias
    assert described[1.0] != described[0.5] != described[0.6]


def test_a_class_balance_the_server_or_the_model_refuses_is_a_400(make_app: Callable[..., Flask], tmp_path: Path,
                                                                 analyzer, old_format_analyzer: Analyzer) -> None:
    """The model description and the results refuse what an analysis refuses, in the same words."""
    client = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'emolens.db'}", ALLOWED_CLASS_BALANCES=[0, 1],
                      CLASS_BALANCE=0.25).test_client()
    body = {"session": "cam", "frames": 1, "elapsed_ms": 10.0, "faces": [face(analyzer.labels)]}
    for value, words in ((0.5, "not allowed on this server; choose one of: 0, 0.25, 1"),
                         (2, "less than or equal to 1"), ("x", "valid number")):
        assert_error(client.get(f"/api/v1/model?class_balance={value}"), 400, words)
        assert_error(post(client, dict(body, class_balance=value)), 400, words)
    assert client.get("/api/v1/stats?session=cam").json["totals"]["frames"] == 0
    default = valid(client.get("/api/v1/model"), BrowserModelOut).calibration  # the server's, not the model's
    assert (default.class_balance, default.bias) == (0.25, list(analyzer.model_info.calibration.at(0.25).logit_bias))
    post(client, body)
    assert list(client.get("/api/v1/stats?session=cam").json["by_class_balance"]) == ["0.25"]
    old = create_app({"DATA_DIR": str(tmp_path / "old"), "TESTING": True}, analyzer=old_format_analyzer)
    try:
        old_client = old.test_client()
        assert_error(old_client.get("/api/v1/model?class_balance=1"), 400, "class balance 0.5 only")
        assert_error(post(old_client, dict(body, class_balance=1)), 400, "class balance 0.5 only")
        assert old_client.get("/api/v1/stats?session=cam").json["totals"]["frames"] == 0
    finally:
        old.extensions["emolens"].storage.engine.dispose()


def fetch(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    """Status, body and headers of a GET, its file closed."""
    response = client.get(url, headers=headers or {})
    try:
        return response.status_code, response.get_data(), response.headers
    finally:
        response.close()


def test_model_file_needs_the_api_token_when_there_is_one(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    client = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'emolens.db'}", API_TOKEN="secret").test_client()
    assert fetch(client, "/api/v1/model.onnx")[0] == 401
    assert fetch(client, "/api/v1/model.onnx", {"Authorization": "Bearer secret"})[0] == 200


def test_live_page_and_its_analysis_worker_alone_may_compile_webassembly(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    for path in ("/live", "/static/js/analysis_worker.js"):  # a worker runs under its own script's policy
        assert "'wasm-unsafe-eval'" in fetch(client, path)[2]["Content-Security-Policy"], path
    for path in ("/", "/static/js/live.js", "/static/js/browser_pipeline.js"):
        assert "wasm-unsafe-eval" not in fetch(client, path)[2]["Content-Security-Policy"], path


def face(labels: tuple[str, ...], top: int = 0) -> dict[str, Any]:
    """A face's results as the browser posts them: ``labels[top]`` at 0.7, the rest sharing 0.3."""
    rest = 0.3 / (len(labels) - 1)
    return {"emotion": labels[top], "scores": {label: 0.7 if i == top else rest for i, label in enumerate(labels)}}


def post(client: FlaskClient, body: Any) -> Any:
    return client.post(RESULTS, data=json.dumps(body), content_type="application/json")


def test_results_add_to_the_live_window(client: FlaskClient, analyzer) -> None:
    labels = analyzer.labels
    body = {"session": "cam", "frames": 3, "elapsed_ms": 12.5, "faces": [face(labels, 3), face(labels, 3),
                                                                          face(labels, 0)]}
    assert valid(post(client, body), LiveResultsOut) == LiveResultsOut(frames=3, faces=3)
    assert valid(post(client, {**body, "frames": 2, "faces": []}), LiveResultsOut).frames == 2
    stats = client.get("/api/v1/stats?session=cam").json
    assert stats["totals"]["frames"] == 5 and stats["totals"]["faces"] == 3
    assert stats["totals"]["counts"][labels[3]] == 2 and stats["totals"]["counts"][labels[0]] == 1
    items = client.get("/api/v1/analyses?session=cam").json["items"]
    assert len(items) == 1 and items[0]["source"] == "webcam" and items[0]["detector"] == "blazeface-short"
    assert items[0]["elapsed_ms"] == pytest.approx(12.5)


def test_results_go_to_the_live_window_of_their_class_balance(client: FlaskClient, analyzer) -> None:
    labels = analyzer.labels
    body = {"session": "cam", "frames": 2, "elapsed_ms": 5.0, "faces": [face(labels, 3)]}
    for extra in ({"class_balance": 1}, {}, {"class_balance": 1.0, "frames": 1}, {"class_balance": 0.5}):
        assert valid(post(client, {**body, **extra}), LiveResultsOut).faces == 1
    stats = client.get("/api/v1/stats?session=cam").json
    assert {k: (v["analyses"], v["frames"]) for k, v in stats["by_class_balance"].items()} == {"1": (1, 3),
                                                                                              "0.5": (1, 4)}
    items = client.get("/api/v1/analyses?session=cam").json["items"]
    assert sorted(item["class_balance"] for item in items) == [0.5, 1.0]


def test_results_are_checked_against_the_model(sqlite_app: Flask, analyzer) -> None:
    client = sqlite_app.test_client()
    labels = analyzer.labels
    good = {"session": "cam", "frames": 1, "elapsed_ms": 10.0, "faces": [face(labels)]}
    renamed = dict(good, faces=[{"emotion": "joy", "scores": {"joy" if k == labels[0] else k: v
                                                              for k, v in face(labels)["scores"].items()}}])
    assert_error(post(client, renamed), 400, "exactly the model's labels")
    missing = dict(good, faces=[{"emotion": labels[0], "scores": dict(list(face(labels)["scores"].items())[:-1])}])
    assert_error(post(client, missing), 400, "exactly the model's labels")
    wrong_top = dict(good, faces=[{**face(labels), "emotion": labels[1]}])
    assert_error(post(client, wrong_top), 400, "highest-scored")
    over = dict(good, faces=[{**face(labels), "scores": {**face(labels)["scores"], labels[0]: 1.5}}])
    assert_error(post(client, over), 400, "less than or equal to 1")
    unnormalised = dict(good, faces=[{**face(labels), "scores": {k: 0.5 for k in labels}}])
    assert_error(post(client, unnormalised), 400, "sum to 1")
    assert_error(post(client, dict(good, session="bad session!")), 400, "session")
    assert_error(post(client, dict(good, frames=0)), 400, "frames")
    assert_error(post(client, dict(good, image="AAAA")), 400, "unknown parameter")
    assert_error(post(client, [good]), 400, "json object")
    assert_error(client.post(RESULTS, data=b"\xff\xd8\xff", content_type="image/jpeg"), 415, "application/json")
    assert client.get("/api/v1/stats?session=cam").json["totals"]["frames"] == 0  # nothing of it stored


def test_results_are_bounded(sqlite_app: Flask, analyzer) -> None:
    client = sqlite_app.test_client()
    labels = analyzer.labels
    assert_error(post(client, {"session": "cam", "frames": 121, "elapsed_ms": 1.0, "faces": []}), 400, "frames")
    crowd = {"session": "cam", "frames": 1, "elapsed_ms": 1.0, "faces": [face(labels)] * 33}
    assert_error(post(client, crowd), 400, "at most 32 a frame")
    many = {"session": "cam", "frames": 120, "elapsed_ms": 1.0, "faces": [face(labels)] * 1001}
    assert_error(post(client, many), 400, "at most 1000")
    padded = {"session": "cam", "frames": 1, "elapsed_ms": 1.0, "faces": [], "pad": "x" * 300_000}
    assert_error(post(client, padded), 413, "256 kb")
    assert client.get("/api/v1/stats?session=cam").json["totals"]["frames"] == 0


def test_a_model_with_other_labels_is_described_and_its_labels_required(tmp_path: Path) -> None:
    """The labels and calibration the browser uses, and the results the server takes, follow the model file: here
    the bundled network with other label names and calibration written into its metadata."""
    onnx = pytest.importorskip("onnx", reason="the train extra edits model metadata")
    model = onnx.load(str(default_model_path()))
    props = {p.key: p for p in model.metadata_props}
    labels = ["mad", "yuck", "scared", "glad", "down", "wow", "calm"]
    props["emolens.labels"].value = json.dumps(labels)
    props["emolens.calibration"].value = json.dumps({"temperature": 0.8, "logit_bias": [0.1] * 7})
    path = tmp_path / "renamed.onnx"
    onnx.save(model, str(path))
    with Analyzer(model_path=path) as analyzer:
        app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True,
                          "DATABASE_URL": f"sqlite:///{tmp_path / 'emolens.db'}"}, analyzer=analyzer)
        client = app.test_client()
        info = valid(client.get("/api/v1/model"), BrowserModelOut)
        assert info.labels == labels and info.name == "renamed.onnx"
        assert info.calibration.temperature == 0.8 and info.calibration.bias == [0.1] * 7
        assert fetch(client, info.url)[1] == path.read_bytes()
        default = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
        body = {"session": "cam", "frames": 1, "elapsed_ms": 5.0, "faces": [face(default)]}
        assert_error(post(client, body), 400, "exactly the model's labels")
        assert valid(post(client, dict(body, faces=[face(tuple(labels))])), LiveResultsOut).faces == 1
        app.extensions["emolens"].storage.engine.dispose()
