"""The Flask application factory."""

from __future__ import annotations

import atexit
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from emolens.errors import InputError
from emolens.pipeline.analyzer import Analyzer
from emolens.storage import make_engine, upgrade
from emolens.web import api, pages
from emolens.web.config import load_config
from emolens.web.services import Services

CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
       "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")


def create_app(config: Optional[Mapping[str, Any]] = None, analyzer: Optional[Analyzer] = None) -> Flask:
    """Build the app: settings (see :mod:`emolens.web.config`), the database migrated to the latest schema,
    and the analyzer, loaded once (pass ``analyzer`` to share one between apps)."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep scores in the model's label order
    load_config(app.config, config)
    engine = make_engine(app.config["DATABASE_URL"])
    upgrade(engine)
    if analyzer is None:
        analyzer = Analyzer(model_path=app.config["MODEL_PATH"], tta=bool(app.config["TTA"]),
                            threads=int(app.config["ONNX_THREADS"]), max_pixels=int(app.config["MAX_PIXELS"]),
                            **({"detector": app.config["DETECTOR"]} if app.config["DETECTOR"] else {}),
                            **app.config["DETECTOR_OPTIONS"])
    svc = Services.create(analyzer, engine, float(app.config["LIVE_WINDOW_S"]))
    app.extensions["emolens"] = svc
    atexit.register(svc.live.flush)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.before_request(_same_origin_only)
    app.after_request(_security_headers)
    app.register_error_handler(api.ApiError, lambda exc: api.error_response(exc.status, str(exc)))
    app.register_error_handler(InputError, lambda exc: api.error_response(400, str(exc)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _same_origin_only() -> None:
    """Refuse state-changing requests that a browser sends from another site (cross-site request forgery)."""
    origin = request.headers.get("Origin")
    if request.method not in ("GET", "HEAD", "OPTIONS") and origin and urlsplit(origin).netloc != request.host:
        raise api.ApiError(403, f"cross-origin request from {origin} refused")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=()"
    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(exc: HTTPException) -> Response:
    """JSON errors under /api/, a small page elsewhere; never a stack trace."""
    status = exc.code or 500
    if status == 413:
        limit = request.max_content_length or 0
        message = f"upload too large: the limit is {limit / 1024 / 1024:g} MB"
    else:
        message = exc.description or exc.name
    if request.path.startswith("/api/"):
        response = api.error_response(status, message)
    else:
        response = Response(render_template("error.html", status=status, title=exc.name, message=message), status)
    for name, value in exc.get_headers():  # e.g. Allow on 405
        if name != "Content-Type":
            response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _unexpected_error(exc: Exception) -> Response:
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return _http_error(InternalServerError("internal error; the server log has the details"))
