"""The CSV export of analyses: filters as for stats, newest first, every matching row, one column per label."""

from __future__ import annotations

import csv
import io

import pytest
from flask.testing import FlaskClient

from emolens.storage import AnalysisRecord, Tally, now_ms, record
from emolens.web import export


def test_analyses_csv_has_every_filtered_analysis_newest_first(client: FlaskClient, face_jpeg: bytes,
                                                               analyzer) -> None:
    for source in ("upload", "upload", "api"):
        data = {"image": (io.BytesIO(face_jpeg), "face.jpg"), "source": source}
        assert client.post("/api/v1/analyze", data=data).status_code == 200
    response = client.get("/api/v1/analyses.csv?source=upload")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["source"] for r in rows] == ["upload", "upload"]
    assert [int(r["id"]) for r in rows] == sorted((int(r["id"]) for r in rows), reverse=True)
    assert all(sum(int(r[label]) for label in analyzer.labels) == int(r["faces"]) == 1 for r in rows)
    assert client.get("/api/v1/analyses.csv?source=nope").status_code == 400
    assert "/api/v1/analyses.csv" in client.get("/api/v1/openapi.json").json["paths"]


def test_analyses_csv_shows_formula_like_texts_as_text(client: FlaskClient, face_jpeg: bytes) -> None:
    """A session or file name that a spreadsheet would run (``-1-1`` shows as -2) gets a leading '; numbers stay
    numbers."""
    name = "=HYPERLINK(A1&A2).jpg"  # a multipart file name ends at its first double quote
    data = {"image": (io.BytesIO(face_jpeg), name), "session": "-1-1"}
    assert client.post("/api/v1/analyze", data=data).status_code == 200
    (row,) = csv.DictReader(io.StringIO(client.get("/api/v1/analyses.csv").get_data(as_text=True)))
    assert (row["session"], row["filename"]) == ("'-1-1", f"'{name}")
    assert int(row["faces"]) == 1 and float(row["elapsed_ms"]) > 0


def test_analyses_csv_repeats_no_row_when_uploads_commit_mid_export(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Analyses committed while the export streams (between two of its pages) shift nothing: every analysis there
    was at the start comes exactly once, in order (paging by offset sent rows of a page twice). They are
    uploads that arrived before the export began (their time, taken on arrival, is in its range) but were
    stored only after its first page: analysing took longer."""
    monkeypatch.setattr(export, "PAGE", 2)
    storage = app.extensions["emolens"].storage
    start = now_ms() - 60_000
    ids = [storage.call(record, _record(start + i * 1000)) for i in range(5)]
    with app.test_client() as client:
        response = client.get("/api/v1/analyses.csv", buffered=False)
        lines = iter(response.response)
        sent = [next(lines) for _ in range(3)]  # the header and the first page
        for i in range(3):
            storage.call(record, _record(start + 10_000 + i))
        sent += list(lines)
        response.close()
    rows = list(csv.DictReader(io.StringIO("".join(map(_text, sent)))))
    assert [int(r["id"]) for r in rows] == ids[::-1]


def _record(created_ms: int) -> AnalysisRecord:
    tally = Tally()
    tally.add("happy", {"happy": 1.0})
    return AnalysisRecord(source="api", session=None, model="m.onnx", detector="det", tta=False, elapsed_ms=1.0,
                          tally=tally, created_ms=created_ms)


def _text(chunk: bytes | str) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else chunk
