"""``emolens train``: train an emotion model (needs the ``[train]`` extra)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import click

from emolens.cli.errors import user_errors


@contextlib.contextmanager
def epoch_lines() -> Iterator[None]:
    """Show the trainer's log (one line per epoch) on stderr while training runs."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("emolens.training")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@click.command("train")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True,
              help="Training config, TOML or YAML (see configs/).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder for checkpoints, history and curves.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--stop-after", type=click.IntRange(min=1), default=None,
              help="Stop after this many epochs in this sitting (continue later with --resume).")
@click.option("--export", "export_path", type=click.Path(path_type=Path), default=None,
              help="After training, export the best checkpoint to this ONNX file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to train: auto takes a CUDA GPU when this PyTorch sees one, else the CPU.")
@user_errors
def command(source: Path, config_path: Path, out_dir: Path, resume: bool, stop_after: int | None,
            export_path: Path | None, device: str) -> None:
    """Train on SOURCE: a class-per-folder tree (optionally with train/ val/ test/; without them, its stratified
    80/10/10 split with seed 0, the one evaluate --split test also uses), a FER2013 CSV, or the FER+ folder. The
    best epoch on the validation split is kept as OUT/best.pt."""
    # Threads that sleep instead of spinning while they wait: with any other load on a small machine, spinning
    # OpenMP threads made training 25x slower here (measured on 2 cores). Must be set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from emolens.training.config import TrainConfig
    from emolens.training.trainer import train

    config = TrainConfig.load(config_path)
    with epoch_lines():
        result = train(source, config, out_dir, resume=resume, stop_after=stop_after, device=device)
    click.echo(f"best validation accuracy {result.best_val_accuracy:.4f} after {result.epochs_done} epochs: "
               f"{result.best_checkpoint}")
    if export_path is not None:
        from emolens.training.export import export_onnx

        export_onnx(result.best_checkpoint, export_path)
        click.echo(f"exported {export_path}")
