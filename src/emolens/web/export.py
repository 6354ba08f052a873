"""The CSV export of analyses (``GET /api/v1/analyses.csv``): one row per analysis, newest first, streamed page
by page, each page read by key (after the last row sent), so that analyses stored meanwhile are neither repeated
nor make a row be skipped, and a deep page costs what the first does."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

from emolens.csvcells import csv_row
from emolens.storage import Filters, Storage, older
from emolens.web.schemas import iso_time

PAGE = 500
"""Analyses read from the database at a time."""
COLUMNS = ("id", "created_at", "filename", "source", "session", "frames", "faces", "elapsed_ms", "tta",
           "class_balance", "model", "detector")
"""The columns before the face counts (one column per label)."""


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(values))
    return out.getvalue()


def _line(row: dict[str, Any], labels: Sequence[str]) -> str:
    """One analysis as a CSV line: its columns, then its face count per top emotion."""
    values = {**row, "created_at": iso_time(row["created_ms"]), "session": row["session"] or "",
              "class_balance": "" if row["class_balance"] is None else f"{row['class_balance']:g}",
              "filename": row["filename"] or ""}
    counts = [row["counts"].get(label, 0) for label in labels]
    return _csv_line([values[c] for c in COLUMNS] + counts)


def csv_lines(storage: Storage, filters: Filters, labels: Sequence[str]) -> Iterator[str]:
    """The header, then every analysis matching ``filters``, newest first, one CSV line each (a webcam row is a
    live window: faces summed over its frames). The first page is read now, so that a storage failure is raised
    here, before an answer starts; the others as the lines are consumed."""
    return _lines(storage, filters, labels, storage.call(older, filters, PAGE))


def _lines(storage: Storage, filters: Filters, labels: Sequence[str], page: list[dict[str, Any]]) -> Iterator[str]:
    yield _csv_line([*COLUMNS, *labels])
    while page:
        for row in page:
            yield _line(row, labels)
        if len(page) < PAGE:
            return
        last = page[-1]
        page = storage.call(older, filters, PAGE, (last["created_ms"], last["id"]))
