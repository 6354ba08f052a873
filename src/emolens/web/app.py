"""The Flask application factory."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import IO, Any, Optional
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, render_template, request
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, InternalServerError
from werkzeug.formparser import FormDataParser, default_stream_factory

from emolens.errors import BusyError, ConfigError, InputError, ModelError, StorageError, UnsupportedFormatError
from emolens.pipeline.analyzer import Analyzer
from emolens.storage import Storage, make_engine, upgrade
from emolens.web import api, pages
from emolens.web.config import load_config
from emolens.web.services import Services, make_analyzer

CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; "
       "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
WASM_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
"""For what runs ONNX Runtime Web: it may compile WebAssembly, and still no JavaScript from strings."""
WASM_SCRIPTS = {"js/analysis_worker.js"}
"""Static scripts that run WebAssembly: a worker's script is under its own response's policy, not its page's."""
DEFAULT_PORTS = {"http": 80, "https": 443}


class StrictFormDataParser(FormDataParser):
    """werkzeug's form parser, except that a body it cannot parse is a 400 saying why, not an empty form (which
    made, say, a file name that is not UTF-8 look like a missing field); the files of a failed parse are closed."""

    def __init__(self, **kwargs: Any) -> None:
        self._factory = kwargs.pop("stream_factory", None) or default_stream_factory
        self._opened: list[IO[bytes]] = []
        super().__init__(**{**kwargs, "stream_factory": self._open, "silent": False})

    def _open(self, **kwargs: Any) -> IO[bytes]:
        self._opened.append(self._factory(**kwargs))
        return self._opened[-1]

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            stream, form, files = super().parse(*args, **kwargs)
            if len(self._opened) > len(list(files.items(multi=True))):  # werkzeug drops a file part never ended
                raise ValueError("it ends in the middle of a file (the upload was cut short)")
            return stream, form, files
        except Exception as exc:
            for file in self._opened:
                file.close()
            if isinstance(exc, UnicodeDecodeError):
                raise BadRequest("the form's part headers (such as the file name) are not UTF-8") from None
            if isinstance(exc, ValueError):
                raise BadRequest(f"the form cannot be read: {exc}") from None
            raise


class StrictRequest(Request):
    """Flask's request, with forms parsed by :class:`StrictFormDataParser`."""

    form_data_parser_class = StrictFormDataParser


def create_app(config: Optional[Mapping[str, Any]] = None, analyzer: Optional[Analyzer] = None) -> Flask:
    """Build the app: settings (see :mod:`emolens.web.config`), the database migrated to the latest schema,
    and the analyzer, loaded once (pass ``analyzer`` to share one between apps)."""
    app = Flask(__name__)
    app.request_class = StrictRequest
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep scores in the model's label order
    load_config(app.config, config)
    timeout_s = float(app.config["STORAGE_TIMEOUT_S"])
    engine = make_engine(app.config["DATABASE_URL"], timeout_s)
    try:
        upgrade(engine)
        loaded = analyzer or make_analyzer(app.config)
    except BaseException:  # a database or model that cannot be used: what was opened is closed
        engine.dispose()
        raise
    services = Services(loaded, Storage(engine, timeout_s),
                        int(float(app.config["LIVE_WINDOW_S"]) * 1000), int(app.config["ANALYSIS_SLOTS"]),
                        float(app.config["QUEUE_TIMEOUT_S"]), owns_analyzer=analyzer is None)
    app.extensions["emolens"] = services
    app.extensions["emolens.close"] = weakref.finalize(app, services.close)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.before_request(_read_timeout)  # first: the body of any refusal is read with the timeout too
    app.before_request(_allowed_host_only)
    app.before_request(_same_origin_only)
    app.after_request(_security_headers)
    app.after_request(_drain_unread_body)
    app.register_error_handler(api.ApiError, lambda exc: api.error_response(exc.status, str(exc)))
    app.register_error_handler(InputError, lambda exc: api.error_response(400, str(exc)))
    app.register_error_handler(UnsupportedFormatError, lambda exc: api.error_response(415, str(exc)))
    app.register_error_handler(ConfigError, lambda exc: api.error_response(400, str(exc)))
    app.register_error_handler(ModelError, _model_error)
    app.register_error_handler(StorageError, lambda exc: _unavailable(str(exc), retry_s=5))
    app.register_error_handler(BusyError, lambda exc: _unavailable(str(exc), retry_s=1))
    app.register_error_handler(ClientDisconnected, _slow_client)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def close_app(app: Flask) -> None:
    """Close what :func:`create_app` opened: the storage threads and connections, and the analyzers the app
    loaded (not one it was given). Runs by itself when the app is garbage-collected or the process exits normally
    (a gunicorn worker that stops); idempotent."""
    app.extensions["emolens.close"]()


def _bare_host(host: str) -> str:
    """``host`` without its port, IPv6 addresses without brackets, lower case: 'localhost', '::1'."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.rpartition(":")[0].lower() if host.count(":") == 1 else host.lower()


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether a Host header names one of ``allowed`` (names, IP addresses with or without brackets, or
    '.domain' for a domain and its subdomains)."""
    name = _bare_host(host)
    for entry in allowed:
        entry = entry.lower().strip("[]")
        if name == entry or (entry.startswith(".") and (name == entry[1:] or name.endswith(entry))):
            return True
    return False


def _allowed_host_only() -> None:
    """Refuse requests for host names this server does not answer to (against DNS rebinding)."""
    allowed = current_app.config.get("ALLOWED_HOSTS")
    host = request.headers.get("Host", "")
    if allowed and not host_allowed(host, allowed):
        raise BadRequest(f"this server does not answer to the host name in the request ({host[:100]!r})")


def _origin(scheme: str, netloc: str) -> tuple[str, str, Optional[int]]:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme.lower(), (parts.hostname or "").lower(), port


def _same_origin_only() -> None:
    """Refuse state-changing requests that a browser sends from another site (cross-site request forgery):
    the Origin's scheme, host and port must be this server's."""
    origin = request.headers.get("Origin")
    if request.method in ("GET", "HEAD", "OPTIONS") or not origin:
        return
    given = urlsplit(origin)
    if _origin(given.scheme, given.netloc) != _origin(request.scheme, request.host):
        raise api.ApiError(403, f"cross-origin request from {origin[:200]} refused")


def _read_timeout() -> None:
    """Bound every read of the request body (and write of the answer) on gunicorn's socket, so that a client
    that stalls mid-upload frees its thread after ``READ_TIMEOUT_S`` instead of holding it forever."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(float(current_app.config["READ_TIMEOUT_S"]))


def _drain_unread_body(response: Response) -> Response:
    """Read what is left of the request body before answering. A refusal sent before it was read (no token,
    storage down, a bad parameter) otherwise reaches a keep-alive client as a reset: the server gives up draining
    a large body and closes with it unread. Not for 408 (it stalled) or 413 (it may be endless)."""
    length = request.content_length
    if not length or response.status_code in (408, 413) or length > (request.max_content_length or length):
        return response
    try:
        while request.stream.read(65536):
            pass
    except (ClientDisconnected, OSError):  # the client left or stalled: the answer will not reach it anyway
        pass
    return response


def _security_headers(response: Response) -> Response:
    wasm = request.endpoint == "static" and (request.view_args or {}).get("filename") in WASM_SCRIPTS
    response.headers.setdefault("Content-Security-Policy", WASM_CSP if wasm else CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=()"
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")  # the model file keeps its validators
    return response


def _unavailable(message: str, retry_s: int) -> Response:
    """503 with Retry-After: storage down, or no capacity left."""
    current_app.logger.warning("503 on %s %s: %s", request.method, request.path, message)
    response = api.error_response(503, message)
    response.headers["Retry-After"] = str(retry_s)
    return response


def _model_error(exc: ModelError) -> Response:
    """The model cannot serve this request: 500, with the reason in the log and the answer (a path, no trace)."""
    current_app.logger.error("model error on %s %s: %s", request.method, request.path, exc)
    return api.error_response(500, f"the emotion model failed: {exc}")


def _slow_client(_exc: ClientDisconnected) -> Response:
    """The request body stalled past READ_TIMEOUT_S, or the client left (the answer will mostly not reach it)."""
    limit = current_app.config["READ_TIMEOUT_S"]
    response = api.error_response(408, f"request body not received in full (nothing for {limit:g} s, or the "
                                       "client went away)")
    response.headers["Connection"] = "close"
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
