"""The ``emolens`` command: one sub-command per module in this package, imported only when it runs (or its own
``--help`` is asked for), so that ``emolens --help`` loads neither OpenCV nor Flask."""

from __future__ import annotations

import importlib
from typing import Optional

import click

from emolens import __version__
from emolens.extras import missing_extra

COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("emolens.cli.analyze", "Find the faces in image files or folders and the emotion of each."),
    "batch": ("emolens.cli.batch", "Analyse image and video collections on Ray, into Parquet."),
    "calibrate": ("emolens.cli.calibrate", "Calibrate a model's scores into honest probabilities."),
    "ensemble": ("emolens.cli.ensemble", "Average several exported models inside one ONNX file."),
    "evaluate": ("emolens.cli.evaluate", "Evaluate the emotion model on a labelled data set."),
    "export": ("emolens.cli.export", "Export a training checkpoint to ONNX with its metadata."),
    "serve": ("emolens.cli.serve", "Serve the web app and the REST API."),
    "train": ("emolens.cli.train", "Train an emotion model on a data set."),
    "video": ("emolens.cli.video", "Track the faces in a video file and their emotions over time."),
    "webcam": ("emolens.cli.webcam", "Show a camera live in a window with faces and emotions."),
}
"""Each command's module (holding ``command``) and the one line ``emolens --help`` shows for it."""


class LazyGroup(click.Group):
    """A group whose commands are imported when they run, not when the group's help lists them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in COMMANDS:
            return None
        return importlib.import_module(COMMANDS[cmd_name][0]).command

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a package of an extra that is not installed (imported with the command's module or
        while it runs) is one line naming the extra."""
        try:
            return super().invoke(ctx)
        except ModuleNotFoundError as exc:
            error = missing_extra(exc)
            if error is None:
                raise
            raise click.ClickException(str(error)) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emolens")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show the warnings and log lines of the libraries underneath (torch, FFmpeg, Ray).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """emolens: find faces and recognise their emotions in images, videos, webcams and the browser.

    Each command has its own --help.
    """
    from emolens.cli.quiet import VERBOSE, quiet

    ctx.meta[VERBOSE] = verbose
    if not verbose:
        ctx.with_resource(quiet())
