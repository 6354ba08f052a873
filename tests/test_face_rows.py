"""One face row in every table emolens writes: the header pinned, and ``analyze --csv``, ``video --csv`` and the
batch Parquet (written by the batch's own actor code and output folder, without Ray) all carry it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.helpers import write_photo_video

from emolens.cli.main import cli
from emolens.errors import ModelError
from emolens.pipeline.rows import face_columns

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # the bundled model's, in its order
HEADER = ["source", "frame", "time_s", "face", "track_id", "x", "y", "w", "h", "detection_score", "emotion",
          *LABELS, "class_balance"]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def batch_faces(photo: Path, out: Path) -> list[dict]:
    """The faces Parquet of ``emolens batch`` for one photo: its actor's code, its track numbering and its output
    folder, called in this process."""
    pq = pytest.importorskip("pyarrow.parquet", reason='needs the [ray] extra: pip install -e ".[ray]"')
    from emolens.batch.output import OutputDir
    from emolens.batch.records import unit_schema
    from emolens.batch.tracks import TrackNumbering
    from emolens.batch.work import AnalyzeUnits, prepare_units
    from emolens.pipeline.options import AnalyzerOptions

    units = prepare_units({"source": [str(photo)], "path": [os.fsencode(photo)], "kind": ["image"],
                           "segment_s": [10.0], "done": [0]})
    analysed = AnalyzeUnits(AnalyzerOptions(), every=1)(units)
    with OutputDir(out) as folder:
        folder.write(TrackNumbering(unit_schema(()).empty_table()).release(analysed))
    table = pq.read_table(out / "faces")
    assert table.column_names[:len(HEADER)] == HEADER  # the row first, then the batch's kind, segment, landmarks
    return table.to_pylist()


def test_analyze_video_and_batch_write_the_same_face_row(photos_dir: Path, tmp_path: Path) -> None:
    assert face_columns(LABELS) == HEADER
    photo, table = photos_dir / "deepface_couple.jpg", tmp_path / "faces.csv"
    assert CliRunner().invoke(cli, ["analyze", str(photo), "--csv", str(table)]).exit_code == 0
    header, rows = read_csv(table)
    assert header == HEADER
    assert [(r["source"], r["face"], r["frame"], r["time_s"], r["track_id"]) for r in rows] == [
        (str(photo), "0", "", "", ""), (str(photo), "1", "", "", "")]
    assert all(0 < float(r["detection_score"]) <= 1 and r["class_balance"] == "0.5" for r in rows)
    assert all(abs(sum(float(r[label]) for label in LABELS) - 1) < 1e-4 for r in rows)  # 7 roundings of 5e-6

    parquet = batch_faces(photo, tmp_path / "out")
    assert [{k: str(v) for k, v in r.items() if k in ("source", "face", "x", "y", "w", "h", "emotion")}
            for r in parquet] == [{k: r[k] for k in ("source", "face", "x", "y", "w", "h", "emotion")} for r in rows]
    assert all(r["class_balance"] == 0.5 and r["frame"] is None and r["track_id"] is None for r in parquet)

    video, table = write_photo_video(tmp_path / "clip.avi", photos_dir), tmp_path / "frames.csv"
    assert CliRunner().invoke(cli, ["video", str(video), "--csv", str(table), "--every", "6"]).exit_code == 0
    header, rows = read_csv(table)
    assert header == HEADER
    assert {r["source"] for r in rows} == {str(video)} and {r["frame"] for r in rows} == {"0", "6", "12"}
    assert [(r["face"], r["track_id"]) for r in rows if r["frame"] == "0"] == [("0", "1"), ("1", "2")]
    assert {r["time_s"] for r in rows if r["frame"] == "12"} == {"1.200"}


def test_a_label_named_like_a_column_is_refused() -> None:
    with pytest.raises(ModelError, match=r"\['x'\]"):
        face_columns(["happy", "x"])
