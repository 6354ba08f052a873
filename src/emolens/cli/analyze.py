"""``emolens analyze``: faces and emotions in image files and folders, as text, JSON or CSV, with annotated copies."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import click
import cv2
from tqdm import tqdm

from emolens.cli.errors import user_errors
from emolens.cli.options import analysis_options, runners_up_option
from emolens.cli.output import to_json
from emolens.csvcells import csv_row
from emolens.errors import InputError
from emolens.pipeline.draw import annotate
from emolens.pipeline.explain import overlay_explanations
from emolens.pipeline.files import collect_images
from emolens.pipeline.results import Face
from emolens.pipeline.rows import csv_values, face_columns, face_row

if TYPE_CHECKING:
    from emolens.pipeline.options import AnalyzerOptions


WRITTEN_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
"""Annotated copies keep their image's format when OpenCV writes it; others (GIF) become lossless PNG."""


def _copy_name(rel: Path) -> Path:
    return rel if rel.suffix.lower() in WRITTEN_SUFFIXES else rel.with_suffix(".png")


def _write_image(path: Path, image: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise InputError(f"{path}: cannot write image")


@click.command("analyze")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every file's faces.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write one CSV row per face (the face row of every emolens table: source, face, box, "
                   "detection_score, emotion, a column per label, class_balance) to this file.")
@click.option("--annotate", "annotate_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write copies of the images with boxes, labels and scores into this folder.")
@click.option("--crops", is_flag=True, help="Each image is a face crop already: classify it whole, no detection.")
@click.option("--save-crops", is_flag=True, help="Also write each face's aligned crop into the --annotate folder.")
@click.option("--explain", "explain_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Why this emotion? Write copies of the images with each face's occlusion heat map (red: the "
                   "parts that most support the emotion) into this folder; --json adds the grids.")
@runners_up_option()
@analysis_options(photos=True)
@user_errors
def command(paths: tuple[Path, ...], as_json: bool, csv_path: Optional[Path], annotate_dir: Optional[Path],
            crops: bool, save_crops: bool, explain_dir: Optional[Path], runners_up: int,
            analysis: AnalyzerOptions) -> None:
    """Find the faces in PATHS (image files, or folders searched recursively) and the emotion of each.

    Prints one line per face, unless --json or --csv is given. Files that cannot be read are reported and
    skipped; the exit status is 1 if any failed (a single file's error is the one line printed).
    """
    _check_combination(as_json and csv_path is not None, save_crops and annotate_dir is None,
                       explain_dir is not None and crops)
    files = collect_images(paths)
    from emolens.pipeline.analyzer import Analyzer

    analyzer = Analyzer.create_from_options(analysis)
    records: list[dict[str, Any]] = []
    csv_file = csv_path.open("w", newline="") if csv_path is not None else None
    writer = csv.writer(csv_file) if csv_file is not None else None
    if writer is not None:
        writer.writerow(csv_row(face_columns(analyzer.labels)))
    failed, error = 0, ""
    try:
        for path, rel in tqdm(files, desc="images", unit="img", disable=len(files) < 2, file=sys.stderr):
            try:
                image = analyzer.load(path)
                faces, face_crops = (analyzer.analyze_crop(image), [image]) if crops else \
                    analyzer.analyze_with_crops(image)
            except InputError as exc:
                failed, error = failed + 1, str(exc)
                if len(files) > 1:
                    tqdm.write(f"error: {exc}", file=sys.stderr)
                if as_json:
                    records.append({"path": str(path), "error": str(exc)})
                continue
            if annotate_dir is not None:
                _write_image(annotate_dir / _copy_name(rel), annotate(image, faces, runners_up))
                for i, crop in enumerate(face_crops if save_crops else []):
                    _write_image(annotate_dir / rel.with_name(f"{rel.stem}_face{i}.png"), crop)
            explained = None
            if explain_dir is not None:
                explained = analyzer.explain_faces(faces, face_crops)
                _write_image(explain_dir / _copy_name(rel), annotate(overlay_explanations(image, explained), faces))
            if as_json:
                records.append({"path": str(path), "width": image.shape[1], "height": image.shape[0],
                                "class_balance": analyzer.class_balance,
                                "faces": [f.to_dict() for f in (explained or faces)]})
            elif writer is not None:
                writer.writerows(_csv_rows(str(path), faces, analyzer.labels, analyzer.class_balance))
            else:
                tqdm.write(_text(path, faces))
    finally:
        if csv_file is not None:
            csv_file.close()
    if as_json:
        click.echo(to_json(records))
    if failed:
        raise click.ClickException(error if len(files) == 1 else f"{failed} of {len(files)} files failed")


def _check_combination(json_and_csv: bool, crops_without_annotate: bool, explain_with_crops: bool) -> None:
    """A usage error for options that do not go together."""
    if json_and_csv:
        raise click.UsageError("--json and --csv are exclusive")
    if crops_without_annotate:
        raise click.UsageError("--save-crops needs --annotate OUT_DIR")
    if explain_with_crops:
        raise click.UsageError("--explain needs face detection; it does not work with --crops")


def _csv_rows(source: str, faces: list[Face], labels: tuple[str, ...], class_balance: Optional[float]
              ) -> list[list[Any]]:
    """The face rows of one image's faces, as CSV cells."""
    return [csv_row(csv_values(face_row(f, labels, index=i, source=source, class_balance=class_balance)))
            for i, f in enumerate(faces)]


def _text(path: Path, faces: list[Face]) -> str:
    lines = [f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}"]
    lines += [f"  {list(f.box)} {f.emotion} {f.confidence:.2f}" for f in faces]
    return "\n".join(lines)
