"""Options shared by the commands that analyse images: --detector, --tta, --model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from emolens.faces import DEFAULT_DETECTOR, DETECTORS

F = TypeVar("F", bound=Callable[..., Any])


def analysis_options(detector: str = DEFAULT_DETECTOR, detector_help: str = "Face detector.") -> Callable[[F], F]:
    """Add ``--detector`` (default ``detector``), ``--tta`` and ``--model`` to a click command."""

    def decorate(func: F) -> F:
        func = click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
                            help="Emotion model (ONNX from `emolens export`); default: the bundled one.")(func)
        func = click.option("--tta", is_flag=True,
                            help="Test-time augmentation: a little more accurate, about 4x slower to classify.")(func)
        return click.option("--detector", type=click.Choice(sorted(DETECTORS)), default=detector, show_default=True,
                            help=detector_help)(func)

    return decorate
