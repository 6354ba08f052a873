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


def analysis_options(detector: str = DEFAULT_DETECTOR, detector_help: str = "Face detector.") -> Callable[[F], F]:
    """Add ``--detector`` (default ``detector``), ``--tta`` and ``--model`` to a click command, which receives them
    as ``analysis``: an :class:`~emolens.pipeline.options.AnalyzerOptions` (image mode)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, model_path: Optional[Path], detector: str, tta: bool, **kwargs: Any) -> Any:
            from emolens.pipeline.options import AnalyzerOptions

            return func(*args, analysis=AnalyzerOptions(model_path, detector, tta=tta), **kwargs)

        command = click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
                               help="Emotion model (ONNX from `emolens export`); default: the bundled one.")(wrapper)
        command = click.option("--tta", is_flag=True,
                               help="Test-time augmentation: a little more accurate, about 4x slower to classify.")(
            command)
        return detector_option(detector, detector_help)(command)  # type: ignore[return-value]

    return decorate


def runners_up_option() -> Callable[[F], F]:
    """``--runners-up``: the annotated images and videos also show each face's two next-likeliest emotions (the
    command receives ``runners_up``, 2 or 0). Off by default: the extra lines triple each label's height and crowd
    group photos, and every score is in --json and --csv."""
    return click.option("--runners-up", "runners_up", flag_value=2, default=0, type=int,
                        help="In the annotated copies, also show each face's two next-likeliest emotions.")
