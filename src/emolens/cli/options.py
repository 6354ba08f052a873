"""Options shared by the commands that analyse images: --detector, --tta, --class-balance, --model, --threads,
--max-pixels, --image-formats and --providers, handed to the command as one
:class:`~emolens.pipeline.options.AnalyzerOptions` (its ``analysis`` argument). --max-pixels and --image-formats
are the web app's ``MAX_PIXELS`` and ``IMAGE_FORMATS`` settings, read from the same ``EMOLENS_*`` environment
variables (``--providers``: ``EMOLENS_PROVIDERS``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import click

from emolens.errors import ConfigError
from emolens.faces import DEFAULT_DETECTOR, DETECTORS

F = TypeVar("F", bound=Callable[..., Any])


def detector_option(default: str = DEFAULT_DETECTOR, help_text: str = "Face detector.") -> Callable[[F], F]:
    """``--detector``: one of the detector names, ``default`` when not given."""
    return click.option("--detector", type=click.Choice(sorted(DETECTORS)), default=default, show_default=True,
                        help=help_text)


def class_balance_option() -> Callable[[F], F]:
    """``--class-balance``: the class prior of the model's calibration (None: the model's default)."""
    return click.option("--class-balance", type=float, default=None,  # its range: checked by AnalyzerOptions
                        help="How readily a face is called neutral: 0 for everyday faces, mostly neutral (FER+'s "
                             "class frequencies), 1 for expressive faces, all emotions equally likely; default: the "
                             "model's (the bundled model: 0.5).")


def analysis_options(detector: str = DEFAULT_DETECTOR, detector_help: str = "Face detector.",
                     photos: bool = False, threads: int = 0) -> Callable[[F], F]:
    """Add ``--detector`` (default ``detector``), ``--tta``, ``--class-balance``, ``--model``, ``--threads``
    (default ``threads``: 0, one per core, for a command that analyses one image at a time; 1 where the command
    already runs analyses side by side) and ``--providers`` to a click command, which receives them as
    ``analysis``: an :class:`~emolens.pipeline.options.AnalyzerOptions`. A command that reads ``photos`` also
    takes the limits on image files, ``--max-pixels`` and ``--image-formats``, and looks for faces at any angle
    unless ``--upright`` is given (video frames are neither image files nor turned)."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, model_path: Optional[Path], detector: str, tta: bool, class_balance: Optional[float],
                    threads: int, providers: Optional[str], max_pixels: Optional[int] = None,
                    image_formats: Optional[str] = None, upright: bool = True, **kwargs: Any) -> Any:
            from emolens.pipeline.options import AnalyzerOptions

            limits: dict[str, Any] = {"max_pixels": max_pixels} if max_pixels is not None else {}
            if image_formats is not None:
                limits["image_formats"] = tuple(image_formats.split(","))
            if providers is not None:
                limits["providers"] = tuple(name.strip() for name in providers.split(","))
            try:
                analysis = AnalyzerOptions(model_path, detector, tta=tta, class_balance=class_balance,
                                           threads=threads, any_angle=not upright, **limits)
            except ConfigError as exc:
                raise click.UsageError(str(exc)) from None
            return func(*args, analysis=analysis, **kwargs)

        command = wrapper
        if photos:
            command = click.option("--upright", is_flag=True,
                                   help="Only faces that are upright or tilted up to ~45 degrees: faster. By "
                                        "default photos are also searched turned by any angle (orientation lost, "
                                        "phone held sideways, upside down).")(command)
        command = click.option("--providers", envvar="EMOLENS_PROVIDERS", metavar="NAMES",
                               help="ONNX Runtime execution providers, in order of preference, separated by commas, "
                                    "e.g. CUDAExecutionProvider,CPUExecutionProvider (default: CPUExecutionProvider;"
                                    " env EMOLENS_PROVIDERS).")(command)
        if photos:
            command = click.option("--image-formats", envvar="EMOLENS_IMAGE_FORMATS", metavar="NAMES",
                                   help="Image formats to read, as Pillow names separated by commas (default: JPEG,"
                                        "PNG,WEBP,GIF,BMP,TIFF; env EMOLENS_IMAGE_FORMATS).")(command)
            command = click.option("--max-pixels", envvar="EMOLENS_MAX_PIXELS", type=int,  # checked by AnalyzerOptions
                                   help="Refuse larger images (default: 50,000,000; env EMOLENS_MAX_PIXELS).")(command)
        command = click.option("--threads", type=int, default=threads, show_default=True,  # checked by AnalyzerOptions
                               help="ONNX Runtime threads of each model, the detector's and the classifier's (0: one "
                                    "per core, up to 4).")(command)
        command = click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
                               help="Emotion model (ONNX from `emolens export`); default: the bundled one.")(command)
        command = click.option("--tta", is_flag=True,
                               help="Test-time augmentation: a little more accurate, about 4x slower to classify.")(
            command)
        command = class_balance_option()(command)
        return detector_option(detector, detector_help)(command)  # type: ignore[return-value]

    return decorate


def runners_up_option() -> Callable[[F], F]:
    """``--runners-up``: the annotated images and videos also show each face's two next-likeliest emotions (the
    command receives ``runners_up``, 2 or 0). Off by default: the extra lines triple each label's height and crowd
    group photos, and every score is in --json and --csv."""
    return click.option("--runners-up", "runners_up", flag_value=2, default=0, type=int,
                        help="In the annotated copies, also show each face's two next-likeliest emotions.")
