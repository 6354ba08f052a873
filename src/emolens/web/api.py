"""The versioned REST API (``/api/v1``): analyze, stats, analyses (list, CSV, stored image and thumbnail), the
settings a page may offer, health and the OpenAPI document."""

from __future__ import annotations

import hmac
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, TypeVar

from flask import Blueprint, Response, abort, current_app, jsonify, request, stream_with_context
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from emolens import __version__
from emolens.errors import StorageError
from emolens.storage import Filters, recent, stats, stored_image, stored_thumbnail
from emolens.web import browser
from emolens.web.analysis import Upload, analyse_and_store
from emolens.web.export import csv_lines
from emolens.web.openapi import openapi_document
from emolens.web.schemas import (
    AnalysesParams,
    AnalyzeParams,
    LiveResults,
    ModelParams,
    Params,
    RangeParams,
    StatsParams,
    iso_time,
)
from emolens.web.services import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPEN_ENDPOINTS = {"api.health", "api.openapi"}
P = TypeVar("P", bound=Params)
MAX_BUCKETS = 2000
HEALTH_TIMEOUT_S = 0.8
"""Health answers within a second, even when the database hangs."""
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff"}
"""Stored uploads are served with their declared type only when it is one of these (never, say, text/html)."""


class ApiError(Exception):
    """A 4xx answer with a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str) -> Response:
    """The JSON body every API error has."""
    response = jsonify(error=message, status=status)
    response.status_code = status
    return response


@bp.before_request
def _require_token() -> None:
    token = current_app.config["API_TOKEN"]
    if not token or request.endpoint in OPEN_ENDPOINTS:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), str(token).encode()):
        abort(401, description="this server needs an API token: send 'Authorization: Bearer <token>'")


def parse(model: type[P], values: MultiDict) -> P:
    """Validate query or form values against ``model``; unknown, repeated or invalid values are a 400."""
    repeated = sorted(key for key, items in values.lists() if len(items) > 1)
    if repeated:
        raise ApiError(400, f"parameter given more than once: {', '.join(repeated)}")
    try:
        return model.model_validate(values.to_dict())
    except ValidationError as exc:
        raise ApiError(400, f"bad parameters: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """What a pydantic validation found, one clause per problem."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: "
                     f"{'unknown parameter' if e['type'] == 'extra_forbidden' else e['msg']}" for e in exc.errors())


def _read_upload() -> tuple[Upload, MultiDict]:
    """The image as the client sent it, and the non-file parameters."""
    params = MultiDict(request.args)
    _chunked_body_within_limit()
    if request.mimetype == "multipart/form-data":
        extra_files = sorted(set(request.files) - {"image"})
        if extra_files:
            raise ApiError(400, f"unknown file field: {', '.join(extra_files)} (send the image as 'image')")
        uploads = request.files.getlist("image")
        if not uploads:
            raise ApiError(400, "missing field 'image': send the picture as multipart field 'image'")
        if len(uploads) > 1:
            raise ApiError(400, f"{len(uploads)} files in field 'image': send one image per request")
        upload = uploads[0]
        for key, items in request.form.lists():
            for item in items:
                params.add(key, item)
        return Upload(upload.read(), upload.filename, upload.mimetype), params
    if request.mimetype == "application/x-www-form-urlencoded":
        raise ApiError(400, "send the image as multipart field 'image' or as the raw request body")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing image: send multipart field 'image' or the raw image as the request body")
    return Upload(data, None, request.mimetype or None), params


def _chunked_body_within_limit() -> None:
    """Read a body sent without Content-Length (chunked) now, and answer 413 when it goes past the upload limit,
    as for one with a Content-Length: werkzeug stops reading such a body at the limit and hands the cut body on
    as if whole (the multipart parser and the raw path then read it from this cached copy)."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return
    if len(request.get_data()) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


@bp.post("/analyze")
def analyze() -> Response:
    """Find faces and their emotions in one image and store the result (webcam frames: added to their live
    window). The answer is 200 only once the result is stored; 503 when storage is down (checked first when
    it failed lately, so no analysis is wasted) or when every analysis slot stays busy."""
    started = time.perf_counter()
    svc = services()
    svc.storage.check()
    upload, values = _read_upload()
    params = parse(AnalyzeParams, values)
    return jsonify(analyse_and_store(svc, current_app.config, upload, params, started))


def _filters(params: RangeParams) -> Filters:
    until = params.until or datetime.now(timezone.utc)
    since = params.since or until - timedelta(days=1)
    if since >= until:
        raise ApiError(400, "bad parameters: since must be before until")
    return Filters(int(since.timestamp() * 1000), int(until.timestamp() * 1000), params.source, params.session,
                   params.class_balance)


def _bucket_seconds(span_s: float, asked: Optional[int]) -> int:
    """The asked width, or a round width giving about 60 buckets."""
    if asked is not None:
        if span_s / asked > MAX_BUCKETS:
            raise ApiError(400, f"bad parameters: bucket too small for the range (over {MAX_BUCKETS} buckets)")
        return asked
    for width in (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400):
        if span_s / width <= 60:
            return width
    return 7 * 86400


@bp.get("/stats")
def get_stats() -> Response:
    """Counts and mean scores per emotion: totals, by source, by session and in time buckets."""
    params = parse(StatsParams, request.args)
    filters = _filters(params)
    svc = services()
    width = _bucket_seconds((filters.until_ms - filters.since_ms) / 1000, params.bucket)
    result = svc.storage.call(stats, filters, width * 1000, svc.analyzer.labels)
    for bucket in result["buckets"]:
        bucket["start"] = iso_time(bucket.pop("start_ms"))
    return jsonify(since=iso_time(filters.since_ms), until=iso_time(filters.until_ms), bucket_seconds=width, **result)


@bp.get("/analyses")
def get_analyses() -> Response:
    """Recent analyses, newest first, paginated with limit and offset."""
    params = parse(AnalysesParams, request.args)
    total, rows = services().storage.call(recent, _filters(params), params.limit, params.offset)
    items: list[dict[str, Any]] = []
    for row in rows:
        item = {key: value for key, value in row.items() if key not in ("created_ms", "image_type")}
        items.append({**item, "created_at": iso_time(row["created_ms"])})
    return jsonify(total=total, limit=params.limit, offset=params.offset, items=items)


@bp.get("/analyses.csv")
def get_analyses_csv() -> Response:
    """Every analysis matching the filters, newest first, as CSV streamed page by page (:mod:`emolens.web.export`)."""
    filters = _filters(parse(RangeParams, request.args))
    svc = services()
    lines = csv_lines(svc.storage, filters, list(svc.analyzer.labels))
    return Response(stream_with_context(lines), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="emolens-analyses.csv"'})


@bp.get("/analyses/<int(max=2147483647):analysis_id>/image")
def get_image(analysis_id: int) -> Response:
    """The uploaded image of one analysis, when image storage was on."""
    found = services().storage.call(stored_image, analysis_id)
    if found is None:
        raise ApiError(404, f"analysis {analysis_id} has no stored image (image storage is off by default)")
    data, declared = found
    safe = declared in IMAGE_TYPES
    return Response(data, mimetype=declared if safe else "application/octet-stream",
                    headers=None if safe else {"Content-Disposition": "attachment"})


@bp.get("/analyses/<int(max=2147483647):analysis_id>/thumbnail")
def get_thumbnail(analysis_id: int) -> Response:
    """The small JPEG thumbnail of one analysis, when thumbnail storage was on."""
    found = services().storage.call(stored_thumbnail, analysis_id)
    if found is None:
        raise ApiError(404, f"analysis {analysis_id} has no thumbnail (thumbnail storage is off by default)")
    return Response(found, mimetype="image/jpeg")


@bp.get("/settings")
def get_settings() -> Response:
    """What a page may offer: the detectors a request may choose (the default first), the default TTA, the
    default class balance and those to offer, and whether photos and thumbnails are kept."""
    config = current_app.config
    svc = services()
    return jsonify(detectors=svc.detectors, tta=bool(config["TTA"]),
                   class_balance=svc.class_balance_for(svc.analyzer, None), class_balances=svc.class_balances,
                   store_images=bool(config["STORE_IMAGES"]), store_thumbnails=bool(config["STORE_THUMBNAILS"]))


@bp.get("/model")
def get_model() -> Response:
    """The emotion model and detector as the live page's browser mode runs them (labels, preprocessing,
    calibration of the class balance asked for, checked as for an analysis; file addresses)."""
    svc = services()
    params = parse(ModelParams, request.args)
    return jsonify(browser.describe_model(svc.class_balance_for(svc.analyzer, params.class_balance)))


@bp.get("/model.onnx")
def get_model_file() -> Response:
    """The emotion model file the browser runs (behind the API token, when there is one; cached with validators)."""
    return browser.model_file()


@bp.post("/live/results")
def post_live_results() -> Response:
    """Results the live page computed in the browser (never an image), checked against the model and added to
    the session's live window like frames the server analysed."""
    if request.mimetype != "application/json":
        raise ApiError(415, "send the results as application/json")
    if (request.content_length or 0) > browser.MAX_RESULTS_BYTES:
        raise ApiError(413, f"results too large: the limit is {browser.MAX_RESULTS_BYTES // 1024} KB a post")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    try:
        results = LiveResults.model_validate(body)
        return jsonify(browser.record_results(results))
    except ValidationError as exc:
        raise ApiError(400, f"bad results: {_problems(exc)}") from None
    except browser.ResultsError as exc:
        raise ApiError(400, f"bad results: {exc}") from None


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Model, detector, database and version, within a second; 503 when a write to the database would fail
    (a committed write probe, bounded in time)."""
    svc = services()
    database: dict[str, Any] = {"ok": True, "dialect": svc.storage.engine.dialect.name, "revision": None,
                                "error": None}
    try:
        database["revision"] = svc.storage.revision(timeout_s=HEALTH_TIMEOUT_S)
    except StorageError as exc:  # the server is degraded, not broken
        current_app.logger.warning("health: %s", exc)
        database.update(ok=False, error=str(exc))
    info = svc.analyzer.model_info
    calibration = info.calibration
    chosen = calibration.at(svc.class_balance_for(svc.analyzer, None))
    body = {"status": "ok" if database["ok"] else "degraded", "version": __version__,
            "model": {"name": svc.model_name, "labels": list(info.labels), "info": info.info,
                      "calibration": {"class_balance": chosen.class_balance, **chosen.to_json(),
                                      **calibration.points_json()}},
            "detector": svc.analyzer.detector_name, "database": database}
    return jsonify(body), 200 if database["ok"] else 503


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())
