"""The CSV export of analyses: filters as for stats, newest first, every matching row, one column per label."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient


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
