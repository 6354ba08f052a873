"""``emolens ensemble``: average several exported models inside one ONNX file."""

from __future__ import annotations

from pathlib import Path

import click

from emolens.cli.errors import user_errors


@click.command("ensemble")
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, help="ONNX file to write.")
@user_errors
def command(models: tuple[Path, ...], out_path: Path) -> None:
    """Write one model that averages the probabilities of MODELS (two or more, same labels and preprocessing).
    Calibrate it afterwards with `emolens calibrate`."""
    from emolens.training.ensemble import ensemble_onnx

    info = ensemble_onnx(list(models), out_path)
    click.echo(f"wrote {out_path}: the mean of {len(models)} models; labels {', '.join(info.labels)}")
