"""The REST API through Flask's test client, on real photos: results, storage, statistics and every bad input."""

from __future__ import annotations

import io
import subprocess
import sys
import zlib
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from PIL import Image

from emolens.web import create_app
from emolens.web.schemas import AnalysesPage, AnalyzeResponse, ErrorOut, Health, StatsResponse


def post_image(client: FlaskClient, data: bytes, name: str = "photo.jpg", **fields: str):
    return client.post("/api/v1/analyze", data={"image": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.data
    body = ErrorOut.model_validate(response.json)
    assert body.status == status
    assert "Traceback" not in body.error
    for word in words:
        assert word in body.error.lower()


def test_analyze_multipart_real_photo(client: FlaskClient, face_photo: Path) -> None:
    response = post_image(client, face_photo.read_bytes(), source="upload", session="s-1")
    assert response.status_code == 200, response.json
    body = AnalyzeResponse.model_validate(response.json)
    assert body.id is not None and body.source == "upload" and body.session == "s-1"
    assert len(body.faces) == 1
    face = body.faces[0]
    assert face.emotion == max(face.scores, key=face.scores.get)
    assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert body.timing.total_ms >= body.timing.analyze_ms > 0


def test_analyze_raw_body(client: FlaskClient, face_jpeg: bytes) -> None:
    response = client.post("/api/v1/analyze?tta=true", data=face_jpeg, content_type="image/jpeg")
    assert response.status_code == 200, response.json
    body = AnalyzeResponse.model_validate(response.json)
    assert body.tta and body.source == "api" and (body.width, body.height) == (640, 480)
    assert len(body.faces) == 1


def test_results_are_stored_listed_and_counted(client: FlaskClient, face_jpeg: bytes) -> None:
    ids = [post_image(client, face_jpeg, source=source).json["id"] for source in ("upload", "api", "api")]
    page = AnalysesPage.model_validate(client.get("/api/v1/analyses?limit=2").json)
    assert page.total == 3 and [item.id for item in page.items] == ids[::-1][:2]
    assert page.items[0].result is not None and not page.items[0].has_image
    second = AnalysesPage.model_validate(client.get("/api/v1/analyses?limit=2&offset=2").json)
    assert [item.id for item in second.items] == ids[:1]
    stats = StatsResponse.model_validate(client.get("/api/v1/stats").json)
    assert stats.totals.analyses == 3 and stats.totals.faces == 3
    assert sum(stats.totals.counts.values()) == 3
    assert sum(stats.totals.mean_scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert {k: v.analyses for k, v in stats.by_source.items()} == {"api": 2, "upload": 1}
    assert sum(b.faces for b in stats.buckets) == 3
    only_api = StatsResponse.model_validate(client.get("/api/v1/stats?source=api&bucket=60").json)
    assert only_api.totals.analyses == 2 and only_api.bucket_seconds == 60


def test_webcam_frames_are_aggregated_not_stored_per_frame(client: FlaskClient, face_jpeg: bytes) -> None:
    for _ in range(5):
        response = client.post("/api/v1/analyze?source=webcam&session=cam-1", data=face_jpeg,
                               content_type="image/jpeg")
        assert response.status_code == 200 and response.json["id"] is None
    page = AnalysesPage.model_validate(client.get("/api/v1/analyses?session=cam-1").json)
    assert page.total == 1
    window = page.items[0]
    assert window.frames == 5 and window.faces == 5 and window.result is None and not window.has_image
    stats = StatsResponse.model_validate(client.get("/api/v1/stats?session=cam-1").json)
    assert stats.by_session["cam-1"].frames == 5


def test_images_stored_only_when_turned_on(analyzer, tmp_path: Path, face_jpeg: bytes) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "STORE_IMAGES": True}, analyzer=analyzer)
    client = app.test_client()
    post_image(client, face_jpeg)
    client.post("/api/v1/analyze?source=webcam", data=face_jpeg, content_type="image/jpeg")
    items = {item["source"]: item for item in client.get("/api/v1/analyses").json["items"]}
    assert items["api"]["has_image"] and not items["webcam"]["has_image"]
    image = client.get(f"/api/v1/analyses/{items['api']['id']}/image")
    assert image.status_code == 200 and image.data == face_jpeg and image.mimetype == "image/jpeg"
    assert_error(client.get(f"/api/v1/analyses/{items['webcam']['id']}/image"), 404, "no stored image")


def test_health_and_openapi(client: FlaskClient, analyzer) -> None:
    health = Health.model_validate(client.get("/api/v1/health").json)
    assert health.status == "ok" and health.database.ok and health.database.revision
    assert health.model.labels == list(analyzer.labels)
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/analyze", "/api/v1/stats", "/api/v1/analyses", "/api/v1/health"} <= set(doc["paths"])
    assert "AnalyzeResponse" in doc["components"]["schemas"]
    since = next(p for p in doc["paths"]["/api/v1/stats"]["get"]["parameters"] if p["name"] == "since")
    assert {"type": "number", "description": "epoch seconds"} in since["schema"]["anyOf"]
    assert client.get("/api/v1/stats?since=0&until=1700000000").status_code == 200
    validate(doc)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size in a few bytes (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("case", ["too_large", "not_image", "truncated", "bomb", "missing_field", "empty_body",
                                  "unknown_param", "unknown_form_field", "bad_source", "bad_session", "repeated",
                                  "two_images"])
def test_bad_input_gets_clear_4xx_and_server_stays_healthy(client: FlaskClient, face_photo: Path,
                                                           face_jpeg: bytes, case: str) -> None:
    photo = face_photo.read_bytes()
    if case == "too_large":
        big = photo + b"\0" * (10 * 1024 * 1024)
        assert_error(post_image(client, big), 413, "too large", "10 mb")
    elif case == "not_image":
        assert_error(post_image(client, b"%PDF-1.4 not a picture", "photo.jpg"), 400, "not an image")
    elif case == "truncated":
        assert_error(post_image(client, photo[: len(photo) // 3]), 400, "truncated")
    elif case == "bomb":
        assert_error(post_image(client, _png_header_only(30000, 30000), "bomb.png"), 400, "pixels")
    elif case == "missing_field":
        assert_error(client.post("/api/v1/analyze", data={"source": "upload"}, content_type="multipart/form-data"),
                     400, "missing", "image")
    elif case == "empty_body":
        assert_error(client.post("/api/v1/analyze", data=b"", content_type="image/jpeg"), 400, "missing image")
    elif case == "unknown_param":
        assert_error(post_image(client, face_jpeg, colour="blue"), 400, "colour", "unknown parameter")
    elif case == "unknown_form_field":
        response = client.post("/api/v1/analyze", data={"image": (io.BytesIO(face_jpeg), "a.jpg"),
                                                        "picture": (io.BytesIO(face_jpeg), "b.jpg")})
        assert_error(response, 400, "picture")
    elif case == "bad_source":
        assert_error(post_image(client, face_jpeg, source="telepathy"), 400, "source")
    elif case == "bad_session":
        assert_error(post_image(client, face_jpeg, session="<script>"), 400, "session")
    elif case == "two_images":
        response = client.post("/api/v1/analyze", data={"image": [(io.BytesIO(face_jpeg), "a.jpg"),
                                                                  (io.BytesIO(face_jpeg), "b.jpg")]})
        assert_error(response, 400, "2 files", "one image")
    elif case == "repeated":
        assert_error(client.post("/api/v1/analyze?tta=1&tta=0", data=face_jpeg, content_type="image/jpeg"),
                     400, "more than once", "tta")
    assert client.get("/api/v1/analyses").json["total"] == 0
    assert client.get("/api/v1/health").status_code == 200
    assert post_image(client, face_jpeg).status_code == 200


@pytest.mark.parametrize("query", ["stats?since=yesterday", "stats?bucket=0", "stats?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
                                   "stats?bucket=1&since=2000-01-01T00:00:00Z", "analyses?limit=1000",
                                   "analyses?page=2", "stats?source=fax", "analyses?offset=99999999999999999999"])
def test_bad_query_parameters(client: FlaskClient, query: str) -> None:
    assert_error(client.get(f"/api/v1/{query}"), 400, "bad parameters")


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    assert_error(client.get("/api/v1/nothing"), 404)
    not_allowed = client.get("/api/v1/analyze")
    assert_error(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]
    assert_error(client.get("/api/v1/analyses/99999999999999999999/image"), 404)


def test_token_protects_api_but_not_health(analyzer, tmp_path: Path, face_jpeg: bytes) -> None:
    client = create_app({"DATA_DIR": str(tmp_path), "API_TOKEN": "s3cret"}, analyzer=analyzer).test_client()
    assert_error(client.post("/api/v1/analyze", data=face_jpeg, content_type="image/jpeg"), 401, "token")
    assert_error(client.get("/api/v1/stats", headers={"Authorization": "Bearer wrong"}), 401)
    assert client.get("/api/v1/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "https://localhost", "http://localhost:8080",
                                    "http://evil.example.localhost"])
def test_cross_site_post_refused(client: FlaskClient, face_jpeg: bytes, origin: str) -> None:
    """The Origin must match this server by scheme, host and port (the test client is http://localhost)."""
    response = client.post("/api/v1/analyze", data=face_jpeg, content_type="image/jpeg", headers={"Origin": origin})
    assert_error(response, 403, "cross-origin")
    same = client.post("/api/v1/analyze", data=face_jpeg, content_type="image/jpeg",
                       headers={"Origin": "http://localhost"})
    assert same.status_code == 200, same.json


def test_untrusted_host_gets_a_clean_error_page(analyzer, tmp_path: Path) -> None:
    client = create_app({"DATA_DIR": str(tmp_path), "ALLOWED_HOSTS": ["localhost", "::1"]},
                        analyzer=analyzer).test_client()
    page = client.get("/dashboard", headers={"Host": "rebound.example"})
    assert page.status_code == 400 and b"host name" in page.data and b"Traceback" not in page.data
    assert_error(client.get("/api/v1/stats", headers={"Host": "rebound.example:80"}), 400, "host name")
    assert client.get("/dashboard", headers={"Host": "[::1]:8000"}).status_code == 200


def test_pages_render_with_security_headers(client: FlaskClient) -> None:
    for path, marker in (("/", b'id="dropzone"'), ("/live", b"not stored"), ("/dashboard", b"chart-dist")):
        response = client.get(path)
        assert response.status_code == 200 and marker in response.data
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert b"http://" not in response.data and b"https://" not in response.data  # no CDN
    assert client.get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200


def test_concurrent_clients_each_analysis_recorded_once(app, face_jpeg: bytes) -> None:
    def one(i: int) -> int:
        with app.test_client() as client:
            response = client.post(f"/api/v1/analyze?session=c{i % 3}", data=face_jpeg, content_type="image/jpeg")
            assert response.status_code == 200, response.json
            return response.json["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(40)))
    assert len(set(ids)) == 40
    page = app.test_client().get("/api/v1/analyses?limit=200").json
    assert page["total"] == 40 and sorted(item["id"] for item in page["items"]) == sorted(ids)
    stats = app.test_client().get("/api/v1/stats").json
    assert stats["totals"]["analyses"] == 40 and sum(stats["totals"]["counts"].values()) == 40


def test_serve_master_loads_no_onnxruntime() -> None:
    code = ("import sys, emolens.cli.main, emolens.web.config, emolens.storage; "
            "assert 'onnxruntime' not in sys.modules, 'onnxruntime loaded before the fork'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_serving_never_imports_torch(tmp_path: Path, face_jpeg: bytes) -> None:
    code = ("import sys; from emolens.web import create_app; "
            f"c = create_app({{'DATA_DIR': {str(tmp_path)!r}}}).test_client(); "
            "assert c.post('/api/v1/analyze', data=sys.stdin.buffer.read(), content_type='image/jpeg').status_code == 200; "
            "import emolens.cli.main; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], input=face_jpeg, check=True, timeout=120)
