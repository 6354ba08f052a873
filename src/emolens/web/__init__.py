"""The web app: Flask app factory, REST API (``/api/v1``) and pages. Run it with ``emolens serve``."""

from emolens.web.app import create_app

__all__ = ["create_app"]
