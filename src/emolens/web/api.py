"""The versioned REST API (``/api/v1``): analyze, stats, analyses, health and the OpenAPI document."""

from __future__ import annotations

import hmac
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, TypeVar

from flask import Blueprint, Response, abort, current_app, jsonify, request
from pydantic import ValidationError
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from emolens import __version__
from emolens.pipeline.images import decode_image
from emolens.storage import AnalysisRecord, Filters, Tally, now_ms, recent, record, stats, stored_image
from emolens.web.openapi import openapi_document
from emolens.web.schemas import AnalysesParams, AnalyzeParams, Params, RangeParams, StatsParams
from emolens.web.services import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPEN_ENDPOINTS = {"api.health", "api.openapi"}
P = TypeVar("P", bound=Params)
MAX_BUCKETS = 2000
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
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: "
                             f"{'unknown parameter' if e['type'] == 'extra_forbidden' else e['msg']}"
                             for e in exc.errors())
        raise ApiError(400, f"bad parameters: {problems}") from None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")


def _read_upload() -> tuple[bytes, str, Optional[str], MultiDict]:
    """The image bytes, a name for messages, the declared type and the non-file parameters."""
    params = MultiDict(request.args)
    if request.mimetype == "multipart/form-data":
        extra_files = sorted(set(request.files) - {"image"})
        if extra_files:
            raise ApiError(400, f"unknown file field: {', '.join(extra_files)} (send the image as 'image')")
        upload = request.files.get("image")
        if upload is None:
            raise ApiError(400, "missing field 'image': send the picture as multipart field 'image'")
        for key, items in request.form.lists():
            for item in items:
                params.add(key, item)
        return upload.read(), upload.filename or "image", upload.mimetype, params
    if request.mimetype == "application/x-www-form-urlencoded":
        raise ApiError(400, "send the image as multipart field 'image' or as the raw request body")
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing image: send multipart field 'image' or the raw image as the request body")
    return data, "body", request.mimetype or None, params


@bp.post("/analyze")
def analyze() -> Response:
    """Find faces and their emotions in one image; store the result (webcam frames: aggregated)."""
    start = time.perf_counter()
    created_ms = now_ms()
    data, name, mimetype, values = _read_upload()
    params = parse(AnalyzeParams, values)
    svc = services()
    image = decode_image(data, name, current_app.config["MAX_PIXELS"])
    decoded = time.perf_counter()
    tta = bool(current_app.config["TTA"]) if params.tta is None else params.tta
    explained = svc.analyzer.explain(image, tta=tta) if params.explain else None
    faces = [e.face for e in explained] if explained is not None else svc.analyzer.analyze(image, tta=tta)
    analyzed = time.perf_counter()
    face_dicts = [face.to_dict() for face in faces]
    analyze_ms = (analyzed - decoded) * 1000
    detector, model = svc.analyzer.detector_name, svc.model_name
    analysis_id = None
    if params.source == "webcam":
        svc.live.add(params.session, model, detector, tta, analyze_ms, [(f.emotion, f.scores) for f in faces])
    else:
        tally = Tally()
        for face in faces:
            tally.add(face.emotion, face.scores)
        keep = current_app.config["STORE_IMAGES"]
        analysis_id = record(svc.engine, AnalysisRecord(
            source=params.source, session=params.session, model=model, detector=detector, tta=tta,
            elapsed_ms=analyze_ms, tally=tally, result=face_dicts, image=data if keep else None,
            image_type=mimetype if keep else None, created_ms=created_ms))
    done = time.perf_counter()
    return jsonify(
        id=analysis_id, created_at=_iso(created_ms),
        source=params.source, session=params.session, width=image.shape[1], height=image.shape[0], tta=tta,
        model=model, detector=detector, faces=face_dicts if explained is None else [e.to_dict() for e in explained],
        timing={"decode_ms": round((decoded - start) * 1000, 2), "analyze_ms": round(analyze_ms, 2),
                "store_ms": round((done - analyzed) * 1000, 2), "total_ms": round((done - start) * 1000, 2)})


def _filters(params: RangeParams) -> Filters:
    until = params.until or datetime.now(timezone.utc)
    since = params.since or until - timedelta(days=1)
    if since.tzinfo is None or until.tzinfo is None:
        since, until = (t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in (since, until))
    if since >= until:
        raise ApiError(400, "bad parameters: since must be before until")
    return Filters(int(since.timestamp() * 1000), int(until.timestamp() * 1000), params.source, params.session)


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
    svc.live.flush()
    width = _bucket_seconds((filters.until_ms - filters.since_ms) / 1000, params.bucket)
    result = stats(svc.engine, filters, width * 1000, svc.analyzer.classifier.labels)
    for bucket in result["buckets"]:
        bucket["start"] = _iso(bucket.pop("start_ms"))
    return jsonify(since=_iso(filters.since_ms), until=_iso(filters.until_ms), bucket_seconds=width, **result)


@bp.get("/analyses")
def get_analyses() -> Response:
    """Recent analyses, newest first, paginated with limit and offset."""
    params = parse(AnalysesParams, request.args)
    svc = services()
    svc.live.flush()
    total, rows = recent(svc.engine, _filters(params), params.limit, params.offset)
    items: list[dict[str, Any]] = []
    for row in rows:
        item = {key: value for key, value in row.items() if key not in ("created_ms", "image_type")}
        items.append({**item, "created_at": _iso(row["created_ms"])})
    return jsonify(total=total, limit=params.limit, offset=params.offset, items=items)


@bp.get("/analyses/<int(max=2147483647):analysis_id>/image")
def get_image(analysis_id: int) -> Response:
    """The uploaded image of one analysis, when image storage was on."""
    found = stored_image(services().engine, analysis_id)
    if found is None:
        raise ApiError(404, f"analysis {analysis_id} has no stored image (image storage is off by default)")
    data, declared = found
    safe = declared in IMAGE_TYPES
    return Response(data, mimetype=declared if safe else "application/octet-stream",
                    headers=None if safe else {"Content-Disposition": "attachment"})


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Model, detector, database and version; 503 when the database cannot be reached."""
    svc = services()
    database: dict[str, Any] = {"ok": True, "dialect": svc.engine.dialect.name, "revision": None}
    try:
        with svc.engine.connect() as conn:
            database["revision"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # any database failure makes the server degraded, not broken
        current_app.logger.exception("health: database check failed")
        database["ok"] = False
    info = svc.analyzer.classifier.model_info
    body = {"status": "ok" if database["ok"] else "degraded", "version": __version__,
            "model": {"name": svc.model_name, "labels": list(info.labels), "info": info.info},
            "detector": svc.analyzer.detector_name, "database": database}
    return jsonify(body), 200 if database["ok"] else 503


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())
