"""Options shared by the commands that analyse images: --detector, --tta and --model, handed to the command as one
:class:`~emolens.pipeline.options.AnalyzerOptions` (its ``analysis`` argument)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import click

from emolens.faces import DEFAULT_DETECTOR, DETECTORS

F = TypeVar("F", bound=Callable[..., Any])


def detector_option(default: str = DEFAULT_DETECTOR, help_text: str = "Face detector.") -> Callable[[F], F]:
    """``--detector``: one of the detector names, ``default`` when not given."""
    return click.option("--detector", type=click.Choice(sorted(DETECTORS)), default=default, show_default=True,
                        help=help_text)


def analysis_options(detector: str = DEFAULT_DETECTOR, detector_help: str = "Face detector.",
                     photos: bool = False) -> Callable[[F], F]:
    """Add ``--detector`` (default ``detector``), ``--tta`` and ``--model`` to a click command, which receives them
    as ``analysis``: an :class:`~emolens.pipeline.options.AnalyzerOptions` (image mode). A command for ``photos``
    looks for faces at any angle unless ``--upright`` is given."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, model_path: Optional[Path], detector: str, tta: bool, upright: bool = True,
                    **kwargs: Any) -> Any:
            from emolens.pipeline.options import AnalyzerOptions

            return func(*args, analysis=AnalyzerOptions(model_path, detector, tta=tta, any_angle=not upright),
                        **kwargs)

        command = wrapper
        if photos:
            command = click.option("--upright", is_flag=True,
                                   help="Only faces that are upright or tilted up to ~45 degrees: faster. By "
                                        "default photos are also searched turned by any angle (orientation lost, "
                                        "phone held sideways, upside down).")(command)
        command = click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
                               help="Emotion model (ONNX from `emolens export`); default: the bundled one.")(command)
        command = click.option("--tta", is_flag=True,
                               help="Test-time augmentation: a little more accurate, about 4x slower to classify.")(
            command)
        return detector_option(detector, detector_help)(command)  # type: ignore[return-value]

    return decorate
