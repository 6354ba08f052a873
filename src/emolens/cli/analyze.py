"""``emolens analyze``: faces and emotions in image files and folders, as text, JSON or CSV, with annotated copies."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import click
import cv2
from tqdm import tqdm

from emolens.cli.errors import user_errors
from emolens.cli.options import analysis_options
from emolens.errors import InputError
from emolens.pipeline.draw import annotate
from emolens.pipeline.files import collect_images
from emolens.pipeline.results import Face

if TYPE_CHECKING:
    from emolens.pipeline.options import AnalyzerOptions


def _write_image(path: Path, image: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise InputError(f"{path}: cannot write image")


@click.command("analyze")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every file's faces.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write one CSV row per face (path, face, box, emotion, a column per label) to this file.")
@click.option("--annotate", "annotate_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write copies of the images with boxes, labels and scores into this folder.")
@click.option("--crops", is_flag=True, help="Each image is a face crop already: classify it whole, no detection.")
@click.option("--save-crops", is_flag=True, help="Also write each face's aligned crop into the --annotate folder.")
@click.option("--explain", "explain_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Why this emotion? Write copies of the images with each face's occlusion heat map (red: the "
                   "parts that most support the emotion) into this folder; --json adds the grids.")
@analysis_options(photos=True)
@user_errors
def command(paths: tuple[Path, ...], as_json: bool, csv_path: Optional[Path], annotate_dir: Optional[Path],
            crops: bool, save_crops: bool, explain_dir: Optional[Path], analysis: AnalyzerOptions) -> None:
    """Find the faces in PATHS (image files, or folders searched recursively) and the emotion of each.

    Prints one line per face, unless --json or --csv is given. Files that cannot be read are reported and
    skipped; the exit status is 1 if any failed.
    """
    if as_json and csv_path is not None:
        raise click.UsageError("--json and --csv are exclusive")
    if save_crops and annotate_dir is None:
        raise click.UsageError("--save-crops needs --annotate OUT_DIR")
    if explain_dir is not None and crops:
        raise click.UsageError("--explain needs face detection; it does not work with --crops")
    files = collect_images(paths)
    from emolens.pipeline.analyzer import Analyzer
    from emolens.pipeline.explain import overlay_explanations

    analyzer = Analyzer.create_from_options(analysis)
    records: list[dict[str, Any]] = []
    csv_file = csv_path.open("w", newline="") if csv_path is not None else None
    writer = csv.writer(csv_file) if csv_file is not None else None
    if writer is not None:
        writer.writerow(["path", "face", "x", "y", "w", "h", "emotion", *analyzer.labels])
    failed = 0
    try:
        for path, rel in tqdm(files, desc="images", unit="img", disable=len(files) < 2, file=sys.stderr):
            try:
                image = analyzer.load(path)
                faces, face_crops = (analyzer.analyze_crop(image), [image]) if crops else \
                    analyzer.analyze_with_crops(image)
            except InputError as exc:
                failed += 1
                tqdm.write(f"error: {exc}", file=sys.stderr)
                if as_json:
                    records.append({"path": str(path), "error": str(exc)})
                continue
            if annotate_dir is not None:
                _write_image(annotate_dir / rel.with_suffix(".jpg"), annotate(image, faces))
                for i, crop in enumerate(face_crops if save_crops else []):
                    _write_image(annotate_dir / rel.with_name(f"{rel.stem}_face{i}.png"), crop)
            explained = analyzer.explain_faces(faces, face_crops) if explain_dir is not None else None
            if explained is not None:
                _write_image(explain_dir / rel.with_suffix(".jpg"), annotate(overlay_explanations(image, explained),
                                                                             faces))
            if as_json:
                records.append({"path": str(path), "width": image.shape[1], "height": image.shape[0],
                                "faces": [f.to_dict() for f in (explained or faces)]})
            elif writer is not None:
                writer.writerows(_csv_row(path, i, f, analyzer.labels) for i, f in enumerate(faces))
            else:
                tqdm.write(_text(path, faces))
    finally:
        if csv_file is not None:
            csv_file.close()
    if as_json:
        click.echo(json.dumps(records, indent=1))
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} files failed")


def _csv_row(path: Path, index: int, face: Face, labels: tuple[str, ...]) -> list[Any]:
    return [str(path), index, *face.box, face.emotion, *(f"{face.scores[label]:.5f}" for label in labels)]


def _text(path: Path, faces: list[Face]) -> str:
    lines = [f"{path}: {len(faces)} face{'s' if len(faces) != 1 else ''}"]
    lines += [f"  {list(f.box)} {f.emotion} {f.confidence:.2f}" for f in faces]
    return "\n".join(lines)
