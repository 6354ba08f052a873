"""``emolens evaluate``: accuracy, macro F1, per-class metrics and a confusion matrix on labelled images."""

from __future__ import annotations

from pathlib import Path

import click

from emolens.cli.errors import user_errors
from emolens.cli.options import class_balance_option, detector_option
from emolens.cli.output import to_json
from emolens.datasets.options import LABEL_MODES, SPLIT_NAMES, LabelMode


@click.command("evaluate")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="ONNX model (default: the bundled model).")
@click.option("--split", type=click.Choice(SPLIT_NAMES, case_sensitive=False), default=None,
              help="Split of the source (FER+ folder, FER2013 CSV, train/ val/ test/ folders; a tree without "
                   "split folders: its stratified 80/10/10 split, seed 0). Default: all of it.")
@click.option("--label-mode", type=click.Choice(LABEL_MODES), default="fer2013", show_default=True,
              help="For FER+ sources: the original FER2013 labels, or the FER+ votes (majority, or soft: ties kept).")
@click.option("--crops", is_flag=True, help="Images are face crops already; skip face detection.")
@detector_option(help_text="Face detector, when the images are not crops.")
@click.option("--tta/--no-tta", default=True, show_default=True, help="Test-time augmentation.")
@class_balance_option()
@click.option("--present-labels", is_flag=True,
              help="Also score with predictions restricted to the labels present in the data (for sets that lack "
                   "some of the model's classes), beside the plain figure.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), default=None,
              help="Also write summary.json, confusion_matrix.png and per_class.md here.")
@user_errors
def command(data_dir: Path, model_path: Path | None, split: str | None, label_mode: LabelMode, crops: bool,
            detector: str, tta: bool, class_balance: float | None, present_labels: bool,
            report_dir: Path | None) -> None:
    """Evaluate the emotion model on DATA_DIR (DATA_DIR/<label>/*.png, or any training source) and print a
    JSON summary: protocol, n, accuracy, macro_f1, per_class, confusion, no_face, skipped, tta, class_balance (and
    present_labels)."""
    from emolens.evaluation.evaluate import evaluate
    from emolens.evaluation.report import write_report
    from emolens.pipeline.analyzer import Analyzer
    from emolens.pipeline.options import AnalyzerOptions

    with Analyzer.create_from_options(AnalyzerOptions(model_path, detector, tta=tta,
                                                                   class_balance=class_balance)) as analyzer:
        summary = evaluate(data_dir, analyzer, split=split, label_mode=label_mode, find_faces=not crops,
                           progress=True, present_labels=present_labels)
    click.echo(to_json(summary))
    if report_dir is not None:
        write_report(summary, report_dir, title=f"{data_dir.name} ({label_mode} labels, TTA {'on' if tta else 'off'})")
