"""The versioned REST API (``/api/v1``): analyze, stats, analyses (list, CSV, stored image and thumbnail), the
settings a page may offer, health and the OpenAPI document."""

from __future__ import annotations

import csv
import hmac
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, TypeVar

from flask import Blueprint, Response, abort, current_app, jsonify, request, stream_with_context
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from emolens import __version__
from emolens.csvcells import csv_row
from emolens.errors import StorageError
from emolens.pipeline.analyzer import Analyzer
from emolens.pipeline.images import decode_image
from emolens.storage import (
    AnalysisRecord,
    Filters,
    Tally,
    add_live_frame,
    now_ms,
    recent,
    record,
    stats,
    stored_image,
    stored_thumbnail,
)
from emolens.web import browser
from emolens.web.openapi import openapi_document
from emolens.web.schemas import (
    AnalysesParams,
    AnalyzeParams,
    LiveResults,
    ModelParams,
    Params,
    RangeParams,
    StatsParams,
)
from emolens.web.services import services
from emolens.web.uploads import clean_filename, thumbnail_jpeg

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


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")


def _read_upload() -> tuple[bytes, Optional[str], Optional[str], MultiDict]:
    """The image bytes, the file's name as the client gave it (None for a raw body), the declared type and
    the non-file parameters."""
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
        return upload.read(), upload.filename, upload.mimetype, params
    if request.mimetype == "application/x-www-form-urlencoded":
        raise ApiError(400, "send the image as multipart field 'image' or as the raw request body")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing image: send multipart field 'image' or the raw image as the request body")
    return data, None, request.mimetype or None, params


def _chunked_body_within_limit() -> None:
    """Read a body sent without Content-Length (chunked) now, and answer 413 when it goes past the upload limit,
    as for one with a Content-Length: werkzeug stops reading such a body at the limit and hands the cut body on
    as if whole (the multipart parser and the raw path then read it from this cached copy)."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return
    if len(request.get_data()) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


@dataclass
class _Analysed:
    """One image's faces (as the API returns them), its size, an optional thumbnail, and the analysis time."""

    faces: list[dict[str, Any]]
    tally: Tally
    width: int
    height: int
    thumbnail: Optional[bytes]
    analyze_ms: float


def _analyse(analyzer: Analyzer, data: bytes, name: str, params: AnalyzeParams, tta: bool,
             class_balance: Optional[float]) -> _Analysed:
    """Decode and analyse one image in an analysis slot; faces the detector scored below ``min_score`` are
    left out (of the answer and of what is stored)."""
    with services().analysis_slot():
        config = current_app.config
        image = decode_image(data, name, config["MAX_PIXELS"], formats=config["IMAGE_FORMATS"])
        height, width = image.shape[:2]
        keep_thumbnail = current_app.config["STORE_THUMBNAILS"] and params.source != "webcam"
        thumbnail = thumbnail_jpeg(image) if keep_thumbnail else None
        start = time.perf_counter()
        photo = params.source != "webcam"  # photos at any angle; live frames take the fast upright pass
        explained = analyzer.explain(image, tta=tta, class_balance=class_balance, any_angle=photo) \
            if params.explain else None
        faces = [e.face for e in explained] if explained is not None else \
            analyzer.analyze(image, tta=tta, class_balance=class_balance, any_angle=photo)
        analyze_ms = (time.perf_counter() - start) * 1000
        del image
    keep = [i for i, face in enumerate(faces) if face.detection_score >= (params.min_score or 0.0)]
    tally = Tally()
    for i in keep:
        tally.add(faces[i].emotion, faces[i].scores)
    shown = [(explained[i] if explained is not None else faces[i]).to_dict() for i in keep]
    return _Analysed(shown, tally, width, height, thumbnail, analyze_ms)


@bp.post("/analyze")
def analyze() -> Response:
    """Find faces and their emotions in one image and store the result (webcam frames: added to their live
    window). The answer is 200 only once the result is stored; 503 when storage is down (checked first when
    it failed lately, so no analysis is wasted) or when every analysis slot stays busy."""
    start = time.perf_counter()
    created_ms = now_ms()
    svc = services()
    svc.storage.check()
    data, filename, mimetype, values = _read_upload()
    params = parse(AnalyzeParams, values)
    analyzer = svc.analyzer_for(params.detector)
    tta = bool(current_app.config["TTA"]) if params.tta is None else params.tta
    class_balance = svc.class_balance_for(analyzer, params.class_balance)
    filename = clean_filename(filename)
    done = _analyse(analyzer, data, filename or "body", params, tta, class_balance)
    analyzed = time.perf_counter()
    live = params.source == "webcam"
    keep = current_app.config["STORE_IMAGES"] and not live
    rec = AnalysisRecord(source=params.source, session=params.session, model=svc.model_name,
                         detector=analyzer.detector_name, tta=tta, class_balance=class_balance,
                         elapsed_ms=done.analyze_ms, tally=done.tally,
                         result=None if live else [_stored(face) for face in done.faces],
                         image=data if keep else None, image_type=mimetype if keep else None,
                         filename=None if live else filename, thumbnail=done.thumbnail, created_ms=created_ms)
    analysis_id = None
    if live:
        svc.storage.call(add_live_frame, rec, svc.live_window_ms)
    else:
        analysis_id = svc.storage.call(record, rec)
    end = time.perf_counter()
    return jsonify(
        id=analysis_id, created_at=_iso(created_ms), filename=rec.filename,
        source=params.source, session=params.session, width=done.width, height=done.height, tta=tta,
        class_balance=class_balance, model=rec.model, detector=rec.detector, faces=done.faces,
        timing={"decode_ms": round((analyzed - start) * 1000 - done.analyze_ms, 2),
                "analyze_ms": round(done.analyze_ms, 2), "store_ms": round((end - analyzed) * 1000, 2),
                "total_ms": round((end - start) * 1000, 2)})


def _stored(face: dict[str, Any]) -> dict[str, Any]:
    """A face as stored: without its explanation (not stored)."""
    return {key: value for key, value in face.items() if key != "explanation"}


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
        bucket["start"] = _iso(bucket.pop("start_ms"))
    return jsonify(since=_iso(filters.since_ms), until=_iso(filters.until_ms), bucket_seconds=width, **result)


@bp.get("/analyses")
def get_analyses() -> Response:
    """Recent analyses, newest first, paginated with limit and offset."""
    params = parse(AnalysesParams, request.args)
    total, rows = services().storage.call(recent, _filters(params), params.limit, params.offset)
    items: list[dict[str, Any]] = []
    for row in rows:
        item = {key: value for key, value in row.items() if key not in ("created_ms", "image_type")}
        items.append({**item, "created_at": _iso(row["created_ms"])})
    return jsonify(total=total, limit=params.limit, offset=params.offset, items=items)


CSV_PAGE = 500
CSV_COLUMNS = ("id", "created_at", "filename", "source", "session", "frames", "faces", "elapsed_ms", "tta",
               "class_balance", "model", "detector")


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(values))
    return out.getvalue()


@bp.get("/analyses.csv")
def get_analyses_csv() -> Response:
    """Every analysis matching the filters, newest first, as CSV streamed page by page: one row per analysis
    with its face count per top emotion (a webcam row is a live window: faces summed over its frames)."""
    filters = _filters(parse(RangeParams, request.args))
    svc = services()
    labels = list(svc.analyzer.labels)
    svc.storage.call(recent, filters, 1, 0)  # fail with a proper error status before streaming starts

    def rows() -> Iterator[str]:
        yield _csv_line([*CSV_COLUMNS, *labels])
        offset = 0
        while True:
            _, page = svc.storage.call(recent, filters, CSV_PAGE, offset)
            for row in page:
                values = {**row, "created_at": _iso(row["created_ms"]), "session": row["session"] or "",
                          "class_balance": "" if row["class_balance"] is None else f"{row['class_balance']:g}",
                          "filename": row["filename"] or ""}
                counts = [row["counts"].get(label, 0) for label in labels]
                yield _csv_line([values[c] for c in CSV_COLUMNS] + counts)
            if len(page) < CSV_PAGE:
                return
            offset += CSV_PAGE

    return Response(stream_with_context(rows()), mimetype="text/csv",
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
