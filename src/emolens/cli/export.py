"""``emolens export``: write a training checkpoint as an ONNX model for the runtime."""

from __future__ import annotations

from pathlib import Path

import click

from emolens.cli.errors import user_errors


@click.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--out", "out_path", type=click.Path(path_type=Path), required=True, help="ONNX file to write.")
@click.option("--crop-margin", type=float, default=None,
              help="Override the crop margin stored in the model (fraction of the face box added on each side).")
@click.option("--source-size", type=int, default=None,
              help="Override the training faces' side stored in the model (larger crops are shrunk to it first).")
@click.option("--fp32", is_flag=True, help="Store weights as float32 (default: float16, half the size).")
@user_errors
def command(checkpoint: Path, out_path: Path, crop_margin: float | None, source_size: int | None, fp32: bool) -> None:
    """Export CHECKPOINT (a best.pt or last.pt) to ONNX with its labels and preprocessing as metadata."""
    from emolens.training.export import export_onnx

    info = export_onnx(checkpoint, out_path, crop_margin=crop_margin, fp16_weights=not fp32, source_size=source_size)
    click.echo(f"exported {out_path}: labels {', '.join(info.labels)}; input {info.preprocessing.input_size}px "
               f"{info.preprocessing.color}")
