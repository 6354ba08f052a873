"""The pages: upload (``/``), live webcam (``/live``), dashboard (``/dashboard``) and history (``/history``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, render_template

from emolens.labels import EMOTION_COLOURS, label_colours
from emolens.pipeline.rows import face_columns
from emolens.pipeline.tracking import TRACKING
from emolens.web.services import services

bp = Blueprint("pages", __name__)


def _page(template: str, active: str, **context: Any) -> str:
    """Render a page with the model's labels and their colours; the well-known emotions the model lacks keep
    their colours too, for stored results of earlier models (the dashboard shows every label it finds)."""
    labels = services().analyzer.labels
    return render_template(template, active=active, labels=list(labels),
                           colours={**EMOTION_COLOURS, **label_colours(labels)}, **context)


@bp.get("/")
def upload() -> str:
    """Upload one or many photos and see each annotated; their CSV has the face row's columns."""
    return _page("upload.html", "upload", face_columns=face_columns(services().analyzer.labels))


@bp.get("/live")
def live() -> Response:
    """Emotions from the browser's camera, live. Its scripts may compile WebAssembly (ONNX Runtime Web runs the
    models in the browser, in a worker): ``WASM_CSP`` allows that and nothing else (no eval of JavaScript). The
    page's face tracker takes its constants from ``data-tracking`` (:data:`~emolens.pipeline.tracking.TRACKING`)."""
    from emolens.web.app import WASM_CSP  # here: the app module imports this one

    response = make_response(_page("live.html", "live", tracking=TRACKING))
    response.headers["Content-Security-Policy"] = WASM_CSP
    return response


@bp.get("/dashboard")
def dashboard() -> str:
    """Charts and a table of what the server has seen."""
    return _page("dashboard.html", "dashboard")


@bp.get("/history")
def history() -> str:
    """Every stored analysis, newest first, each opening its stored result."""
    return _page("history.html", "history")
