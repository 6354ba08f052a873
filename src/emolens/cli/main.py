"""The ``emolens`` command: one sub-command per module in this package."""

from __future__ import annotations

import importlib

import click

from emolens import __version__

COMMAND_MODULES = (
    "emolens.cli.train",
    "emolens.cli.evaluate",
    "emolens.cli.export",
    "emolens.cli.calibrate",
    "emolens.cli.serve",
    "emolens.cli.analyze",
    "emolens.cli.video",
    "emolens.cli.batch",
    "emolens.cli.webcam",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emolens")
def cli() -> None:
    """emolens: find faces and recognise their emotions in images, videos, webcams and the browser.

    Each command has its own --help.
    """


for _module in COMMAND_MODULES:
    cli.add_command(importlib.import_module(_module).command)
