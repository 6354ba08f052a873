"""The web app: Flask app factory, REST API (``/api/v1``) and pages. Run it with ``emolens serve``.

``create_app`` is imported on first use, so that ``emolens serve``'s master process can read settings without
loading ONNX Runtime: a runtime loaded before gunicorn forks its workers aborts them at exit."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from emolens.web.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
