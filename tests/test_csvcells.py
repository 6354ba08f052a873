"""The one rule of every CSV emolens writes: a text that starts like a formula is shown, never run."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from emolens.cli.main import cli
from emolens.csvcells import csv_cell, csv_row, read_cell

FORMULA_NAME = '=HYPERLINK("http://example.com","open").jpg'


@pytest.mark.parametrize("value, cell", [
    ("-1-1", "'-1-1"), ("=1+2", "'=1+2"), ("+A1", "'+A1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\r=1", "'\r=1"), ("-", "'-"), (FORMULA_NAME, f"'{FORMULA_NAME}"),
    ("-0.25", "-0.25"), ("+3", "+3"), ("-1e-05", "-1e-05"), (-2, -2), (-0.5, -0.5), (None, None),
    ("happy", "happy"), ("a=b", "a=b"), ("'=quoted", "''=quoted"), ("'quoted", "'quoted"),
])
def test_formula_like_texts_get_a_quote_and_numbers_stay(value: object, cell: object) -> None:
    assert csv_cell(value) == cell
    if isinstance(value, str):
        assert read_cell(csv_cell(value)) == value


def test_cells_are_quoted_by_the_csv_module() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row([FORMULA_NAME, -3, "line\nbreak"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [f"'{FORMULA_NAME}", "-3", "line\nbreak"]


def test_analyze_csv_shows_a_formula_file_name_as_text(tmp_path: Path, photos_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    name = '=HYPERLINK("x","open"),1.jpg'  # a file name cannot hold the URL's slashes
    shutil.copy(photos_dir / "deepface_img1.jpg", tmp_path / name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["analyze", name, "--csv", "faces.csv"])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO((tmp_path / "faces.csv").read_text()))
    assert row["source"] == f"'{name}" and row["emotion"] == "happy"
    assert int(row["x"]) > 0 and 0 < float(row["happy"]) <= 1


def test_batch_summaries_show_formula_like_inputs_as_text_and_read_back_as_manifests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emolens.batch.inputs import expand_inputs
    from emolens.batch.output import OutputDir

    monkeypatch.chdir(tmp_path)
    pattern = "=HYPERLINK(1)*.jpg"
    media, bad = expand_inputs([pattern])
    assert media == [] and [b.source for b in bad] == [pattern]
    with OutputDir(tmp_path / "out") as out:
        out.summarize(media, bad)
    (problem,) = csv.DictReader(io.StringIO((tmp_path / "out" / "problems.csv").read_text()))
    assert (problem["source"], problem["status"]) == (f"'{pattern}", "failed")
    (summary,) = csv.DictReader(io.StringIO((tmp_path / "out" / "summary.csv").read_text()))
    assert summary["source"] == f"'{pattern}" and summary["faces"] == "0"
    retried = expand_inputs([str(tmp_path / "out" / "problems.csv")])[1]  # problems.csv as a manifest
    assert [b.source for b in retried] == [str(tmp_path / "out" / pattern)]
