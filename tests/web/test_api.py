"""The REST API through Flask's test client, on real photos: results, storage, statistics and every bad input."""

from __future__ import annotations

import atexit
import gc
import io
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from PIL import Image
from pydantic import BaseModel
from werkzeug.test import TestResponse

from emolens.errors import ConfigError, ModelError
from emolens.web import create_app
from emolens.web.schemas import AnalysesPage, AnalyzeResponse, ErrorOut, Health, StatsResponse


def post_image(client: FlaskClient, data: bytes, name: str = "photo.jpg", **fields: str):
    return client.post("/api/v1/analyze", data={"image": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


M = TypeVar("M", bound=BaseModel)


def valid(response: TestResponse, model: type[M]) -> M:
    """A 200 answer's body as ``model``, which must declare every key of it (so the schema cannot drift)."""
    assert response.status_code == 200, response.data
    return model.model_validate(response.json, extra="forbid")


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.data
    body = ErrorOut.model_validate(response.json, extra="forbid")
    assert body.status == status
    assert "Traceback" not in body.error
    for word in words:
        assert word in body.error.lower()


def test_analyze_multipart_real_photo(client: FlaskClient, face_photo: Path) -> None:
    body = valid(post_image(client, face_photo.read_bytes(), source="upload", session="s-1"), AnalyzeResponse)
    assert body.id is not None and body.source == "upload" and body.session == "s-1"
    assert len(body.faces) == 1
    face = body.faces[0]
    assert face.emotion == max(face.scores, key=face.scores.get)
    assert sum(face.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert body.timing.total_ms >= body.timing.analyze_ms > 0


def test_analyze_raw_body(client: FlaskClient, face_jpeg: bytes) -> None:
    body = valid(_raw(client, face_jpeg, "?tta=true"), AnalyzeResponse)
    assert body.tta and body.source == "api" and (body.width, body.height) == (640, 480)
    assert len(body.faces) == 1


def test_chunked_body_up_to_the_limit_is_analysed(client: FlaskClient, face_jpeg: bytes) -> None:
    """A body without Content-Length is read whole up to the upload limit, inclusive (over it: 413, below)."""
    exactly = face_jpeg + b"\0" * (10 * 1024 * 1024 - len(face_jpeg))  # a JPEG decoder ignores trailing bytes
    for data in (face_jpeg, exactly):
        assert len(valid(_chunked(client, data), AnalyzeResponse).faces) == 1
    assert client.get("/api/v1/analyses").json["total"] == 2


def test_results_are_stored_listed_and_counted(client: FlaskClient, face_jpeg: bytes) -> None:
    ids = [post_image(client, face_jpeg, source=source).json["id"] for source in ("upload", "api", "api")]
    page = valid(client.get("/api/v1/analyses?limit=2"), AnalysesPage)
    assert page.total == 3 and [item.id for item in page.items] == ids[::-1][:2]
    assert page.items[0].result is not None and not page.items[0].has_image
    second = valid(client.get("/api/v1/analyses?limit=2&offset=2"), AnalysesPage)
    assert [item.id for item in second.items] == ids[:1]
    stats = valid(client.get("/api/v1/stats"), StatsResponse)
    assert stats.totals.analyses == 3 and stats.totals.faces == 3
    assert sum(stats.totals.counts.values()) == 3
    assert sum(stats.totals.mean_scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert {k: v.analyses for k, v in stats.by_source.items()} == {"api": 2, "upload": 1}
    assert sum(b.faces for b in stats.buckets) == 3
    only_api = valid(client.get("/api/v1/stats?source=api&bucket=60"), StatsResponse)
    assert only_api.totals.analyses == 2 and only_api.bucket_seconds == 60


def test_webcam_frames_are_aggregated_not_stored_per_frame(client: FlaskClient, face_jpeg: bytes) -> None:
    for _ in range(5):
        response = client.post("/api/v1/analyze?source=webcam&session=cam-1", data=face_jpeg,
                               content_type="image/jpeg")
        assert response.status_code == 200 and response.json["id"] is None
    page = valid(client.get("/api/v1/analyses?session=cam-1"), AnalysesPage)
    assert page.total == 1
    window = page.items[0]
    assert window.frames == 5 and window.faces == 5 and window.result is None and not window.has_image
    stats = valid(client.get("/api/v1/stats?session=cam-1"), StatsResponse)
    assert stats.by_session["cam-1"].frames == 5


def test_uploads_find_faces_at_any_angle_and_webcam_frames_stay_upright(client: FlaskClient,
                                                                         photos_dir: Path) -> None:
    """Photos whose orientation was lost (issue 21): the six faces of the group photo upside down. Live frames
    keep the fast upright pass."""
    import cv2
    import numpy as np

    upside_down = cv2.imencode(".jpg", np.ascontiguousarray(cv2.imread(str(photos_dir / "facenet_multiface.jpg"))
                                                            [::-1, ::-1]))[1].tobytes()
    assert len(valid(post_image(client, upside_down), AnalyzeResponse).faces) == 6
    live = client.post("/api/v1/analyze?source=webcam&session=cam-2", data=upside_down, content_type="image/jpeg")
    assert len(live.json["faces"]) < 6


def test_images_stored_only_when_turned_on(make_app, face_jpeg: bytes) -> None:
    client = make_app(STORE_IMAGES=True).test_client()
    post_image(client, face_jpeg)
    client.post("/api/v1/analyze?source=webcam", data=face_jpeg, content_type="image/jpeg")
    items = {item["source"]: item for item in client.get("/api/v1/analyses").json["items"]}
    assert items["api"]["has_image"] and not items["webcam"]["has_image"]
    image = client.get(f"/api/v1/analyses/{items['api']['id']}/image")
    assert image.status_code == 200 and image.data == face_jpeg and image.mimetype == "image/jpeg"
    assert_error(client.get(f"/api/v1/analyses/{items['webcam']['id']}/image"), 404, "no stored image")


def test_health_and_openapi(client: FlaskClient, analyzer) -> None:
    health = valid(client.get("/api/v1/health"), Health)
    assert health.status == "ok" and health.database.ok and health.database.revision
    assert health.model.labels == list(analyzer.labels)
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/analyze", "/api/v1/stats", "/api/v1/analyses", "/api/v1/health"} <= set(doc["paths"])
    assert "AnalyzeResponse" in doc["components"]["schemas"]
    since = next(p for p in doc["paths"]["/api/v1/stats"]["get"]["parameters"] if p["name"] == "since")
    assert {"type": "number", "description": "epoch seconds", "minimum": 0,
            "maximum": 253402300799} in since["schema"]["anyOf"]
    assert client.get("/api/v1/stats?since=0&until=1700000000").status_code == 200
    assert all("414" in operation["responses"] for path in doc["paths"].values() for operation in path.values())
    validate(doc)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a huge size in a few bytes (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _pcx(jpeg: bytes) -> bytes:
    """A real photo as PCX: a format Pillow reads but uploads may not be in unless IMAGE_FORMATS says so."""
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, "PCX")
    return out.getvalue()


def test_image_formats_setting_allows_more(make_app: Callable[..., Flask], face_jpeg: bytes) -> None:
    with make_app(IMAGE_FORMATS="jpeg,pcx").test_client() as client:
        assert post_image(client, _pcx(face_jpeg), "photo.pcx").status_code == 200


def _multipart(client: FlaskClient, **fields) -> TestResponse:
    return client.post("/api/v1/analyze", data=fields, content_type="multipart/form-data")


def _raw(client: FlaskClient, data: bytes, query: str = "") -> TestResponse:
    return client.post(f"/api/v1/analyze{query}", data=data, content_type="image/jpeg")


def _raw_multipart(client: FlaskClient, disposition: str, data: bytes, end: bytes = b"\r\n--b--\r\n") -> TestResponse:
    """A multipart body written by hand: the part's Content-Disposition parameters as raw bytes (latin-1)."""
    body = (f"--b\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: image/jpeg\r\n\r\n"
            .encode("latin-1") + data + end)
    return client.post("/api/v1/analyze", data=body, content_type="multipart/form-data; boundary=b")


def _chunked(client: FlaskClient, data: bytes, multipart: bool = False) -> TestResponse:
    """``data`` sent as a body without Content-Length (chunked, as gunicorn hands it on: a terminated stream)."""
    content_type = "image/jpeg"
    if multipart:
        content_type = "multipart/form-data; boundary=b"
        data = (b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n--b--\r\n")
    return client.post("/api/v1/analyze", input_stream=io.BytesIO(data), content_type=content_type,
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})


BadRequest = Callable[[FlaskClient, bytes, bytes], TestResponse]
"""Sends one bad request, given the client, the original photo's bytes and a 640x480 JPEG of it."""

BAD_INPUTS: dict[str, tuple[BadRequest, int, tuple[str, ...]]] = {
    "too_large": (lambda c, photo, jpg: post_image(c, photo + b"\0" * (10 * 1024 * 1024)), 413,
                  ("too large", "10 mb")),
    "too_large_chunked": (lambda c, photo, jpg: _chunked(c, photo + b"\0" * (10 * 1024 * 1024)), 413,
                          ("too large", "10 mb")),
    "too_large_chunked_multipart": (lambda c, photo, jpg: _chunked(c, photo + b"\0" * (10 * 1024 * 1024), True), 413,
                                    ("too large", "10 mb")),
    "not_image": (lambda c, photo, jpg: post_image(c, b"%PDF-1.4 not a picture", "photo.jpg"), 415,
                  ("not an image", "accepted: jpeg, png, webp, gif, bmp, tiff")),
    "eps": (lambda c, photo, jpg: post_image(c, b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n",
                                             "drawing.eps"), 415, ("accepted: jpeg, png, webp, gif, bmp, tiff",)),
    "pcx": (lambda c, photo, jpg: post_image(c, _pcx(jpg), "photo.pcx"), 415, ("image_formats",)),
    "truncated": (lambda c, photo, jpg: post_image(c, photo[: len(photo) // 3]), 400, ("truncated",)),
    "bomb": (lambda c, photo, jpg: post_image(c, _png_header_only(30000, 30000), "bomb.png"), 400,
             ("over the limit of 50,000,000 pixels", "max_pixels")),
    "large": (lambda c, photo, jpg: post_image(c, _png_header_only(8000, 7000), "large.png"), 400,
              ("8000x7000, over the limit of 50,000,000 pixels", "max_pixels")),
    "missing_field": (lambda c, photo, jpg: _multipart(c, source="upload"), 400, ("missing", "image")),
    "non_utf8_file_name": (lambda c, photo, jpg: _raw_multipart(c, 'name="image"; filename="\xff\xfe.jpg"', jpg),
                           400, ("file name", "not utf-8")),
    "bad_multipart": (lambda c, photo, jpg: _raw_multipart(c, 'name="image"; filename="a.jpg"', jpg, end=b""),
                      400, ("form cannot be read",)),
    "empty_body": (lambda c, photo, jpg: _raw(c, b""), 400, ("missing image",)),
    "unknown_param": (lambda c, photo, jpg: post_image(c, jpg, colour="blue"), 400, ("colour", "unknown parameter")),
    "unknown_form_field": (lambda c, photo, jpg: _multipart(c, image=(io.BytesIO(jpg), "a.jpg"),
                                                            picture=(io.BytesIO(jpg), "b.jpg")), 400, ("picture",)),
    "bad_source": (lambda c, photo, jpg: post_image(c, jpg, source="telepathy"), 400, ("source",)),
    "bad_session": (lambda c, photo, jpg: post_image(c, jpg, session="<script>"), 400, ("session",)),
    "repeated": (lambda c, photo, jpg: _raw(c, jpg, "?tta=1&tta=0"), 400, ("more than once", "tta")),
    "two_images": (lambda c, photo, jpg: _multipart(c, image=[(io.BytesIO(jpg), "a.jpg"), (io.BytesIO(jpg), "b.jpg")]),
                   400, ("2 files", "one image")),
}
"""Each bad request: how to send it, the status it must get, and words its message must hold."""


@pytest.mark.parametrize("send, status, words", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gets_clear_4xx_and_server_stays_healthy(client: FlaskClient, face_photo: Path, face_jpeg: bytes,
                                                           send: BadRequest, status: int,
                                                           words: tuple[str, ...]) -> None:
    assert_error(send(client, face_photo.read_bytes(), face_jpeg), status, *words)
    assert client.get("/api/v1/analyses").json["total"] == 0
    assert client.get("/api/v1/health").status_code == 200
    assert post_image(client, face_jpeg).status_code == 200


def test_valid_refuses_a_key_the_schema_does_not_declare(client: FlaskClient) -> None:
    """Schema drift fails: a response with a key its model lacks is not valid()."""
    response = client.get("/api/v1/health")
    response.set_data(response.data.replace(b'"status":', b'"uptime": 1, "status":', 1))
    with pytest.raises(ValueError, match="uptime"):
        valid(response, Health)


@pytest.mark.parametrize("error, status, words", [
    (ConfigError("patch_cells must be between 1 and cells (5), not 9"), 400, ("patch_cells",)),
    (ModelError("custom.onnx: cannot load ONNX model: bad graph"), 500, ("emotion model failed", "custom.onnx")),
])
def test_emolens_errors_during_a_request_are_json(client: FlaskClient, analyzer, face_jpeg: bytes,
                                                  monkeypatch: pytest.MonkeyPatch, error: Exception, status: int,
                                                  words: tuple[str, ...]) -> None:
    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(analyzer, "analyze", fail)
    assert_error(_raw(client, face_jpeg), status, *words)


@pytest.mark.parametrize("query", ["stats?since=yesterday", "stats?bucket=0",
                                   "stats?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
                                   "stats?bucket=1&since=2000-01-01T00:00:00Z", "analyses?limit=1000",
                                   "analyses?page=2", "stats?source=fax", "analyses?offset=99999999999999999999"])
def test_bad_query_parameters(client: FlaskClient, query: str) -> None:
    assert_error(client.get(f"/api/v1/{query}"), 400, "bad parameters")


@pytest.mark.parametrize("path", ["stats", "analyses", "analyses.csv"])
@pytest.mark.parametrize("query", ["until=0001-01-01T00:00:00Z", "until=9999-12-31T23:59:59-12:00",
                                   "since=1969-12-31T23:59:59Z", "until=-1", "until=253402300800", "until=nan"])
def test_times_outside_the_range_are_a_clear_400(client: FlaskClient, path: str, query: str) -> None:
    """Times whose default 'since' (a day before) or ISO text would not exist were a 500; now a 400 naming the
    range, on every endpoint that takes times."""
    assert_error(client.get(f"/api/v1/{path}?{query}"), 400, query.split("=")[0], "1970-01-01", "9999-12-31")


@pytest.mark.parametrize("until, expected", [
    ("1e11", "5138-11-16T09:46:40.000+00:00"),  # was refused as a date "too short"
    ("20000000001", "2603-10-11T11:33:21.000+00:00"),  # was read as milliseconds (1970-08-20)
    ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000+00:00"),
    ("9999-12-31T23:59:59+14:00", "9999-12-31T09:59:59.000+00:00"),
    ("1970-01-01T00:00:00", "1970-01-01T00:00:00.000+00:00"),  # no offset: UTC
])
def test_times_at_the_edges_of_the_range_are_epoch_seconds_or_iso(client: FlaskClient, until: str,
                                                                   expected: str) -> None:
    stats = valid(client.get(f"/api/v1/stats?until={until.replace('+', '%2B')}"), StatsResponse)
    assert stats.until.isoformat(timespec="milliseconds") == expected
    assert client.get(f"/api/v1/analyses?until={until.replace('+', '%2B')}").json["total"] == 0


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    assert_error(client.get("/api/v1/nothing"), 404)
    not_allowed = client.get("/api/v1/analyze")
    assert_error(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]
    assert_error(client.get("/api/v1/analyses/99999999999999999999/image"), 404)


def test_token_protects_api_but_not_health(make_app, face_jpeg: bytes) -> None:
    client = make_app(API_TOKEN="s3cret").test_client()
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


def test_untrusted_host_gets_a_clean_error_page(make_app) -> None:
    client = make_app(ALLOWED_HOSTS=["localhost", "::1"]).test_client()
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
    with client.get("/static/vendor/chartjs/chart.umd.min.js") as static:  # a file response: closed after use
        assert static.status_code == 200


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


def test_creating_apps_registers_no_exit_hooks(make_app) -> None:
    """Apps keep nothing to flush at exit (live windows are upserted per frame), so a process that makes many
    apps (a test run, say) does not collect one exit hook per app."""
    make_app()  # whatever the first import registers
    before = atexit._ncallbacks()
    for _ in range(3):
        make_app()
    assert atexit._ncallbacks() == before


def test_an_app_closes_its_database_connections_when_it_goes(analyzer, tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path)}, analyzer=analyzer)
    engine = app.extensions["emolens"].storage.engine
    assert app.test_client().get("/api/v1/stats").status_code == 200
    assert engine.pool.checkedin() >= 1  # pooled, open
    del app
    gc.collect()
    assert engine.pool.checkedin() == 0


def test_serve_master_loads_no_onnxruntime() -> None:
    """What `emolens serve` runs before it forks, its settings check included: a worker forked from a master
    that loaded ONNX Runtime hangs when it exits."""
    code = ("import sys, emolens.cli.main, emolens.cli.gunicorn_app, emolens.storage; from flask import Config; "
            "from emolens.web.config import analyzer_options, load_config; "
            "settings = Config(''); load_config(settings); analyzer_options(settings); "
            "assert 'onnxruntime' not in sys.modules, 'onnxruntime loaded before the fork'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_serving_never_imports_torch(tmp_path: Path, face_jpeg: bytes) -> None:
    code = ("import sys; from emolens.web import create_app; "
            f"c = create_app({{'DATA_DIR': {str(tmp_path)!r}}}).test_client(); "
            "assert c.post('/api/v1/analyze', data=sys.stdin.buffer.read(), "
            "content_type='image/jpeg').status_code == 200; "
            "import emolens.cli.main; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], input=face_jpeg, check=True, timeout=120)
