"""The pages: upload (``/``), live webcam (``/live``) and dashboard (``/dashboard``)."""

from __future__ import annotations

from flask import Blueprint, render_template

from emolens.web.services import services

bp = Blueprint("pages", __name__)


def _page(template: str, active: str) -> str:
    labels = services().analyzer.classifier.labels
    return render_template(template, active=active, labels=list(labels))


@bp.get("/")
def upload() -> str:
    """Upload one or many photos and see each annotated."""
    return _page("upload.html", "upload")


@bp.get("/live")
def live() -> str:
    """Emotions from the browser's camera, live."""
    return _page("live.html", "live")


@bp.get("/dashboard")
def dashboard() -> str:
    """Charts and a table of what the server has seen."""
    return _page("dashboard.html", "dashboard")
