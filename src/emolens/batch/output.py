"""The ``--out`` folder of ``emolens batch``: Parquet parts written atomically, what is done, and the summaries.

Layout::

    faces/part-NNNNNN.parquet   one row per face (the face row of pipeline/rows.py, and more), the results
    units/part-NNNNNN.parquet   one row per unit written (image or video segment): the record of what is done
    summary.csv                 one row per input of the last run: status, frames, faces, tracks, faces per emotion
    problems.csv                the inputs with no face or that failed, with the reason (usable as a manifest)
    .lock                       held (``flock``) by the run writing into the folder, which it names

A part is written under a hidden temporary name, then renamed: its faces first, then its units. A faces part
without its units part (a run killed between the two renames) is deleted on the next start, so a rerun never
counts a face twice. Faces parts of an older emolens (probabilities in a ``scores`` struct) are rewritten in
today's columns on opening. One run at a time per folder: a second is refused while the first holds the lock, which
the system releases when its process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from emolens.batch.inputs import BadInput, MediaInput
from emolens.batch.records import flatten_faces, is_before_face_row, unit_schema, upgrade_faces
from emolens.csvcells import csv_cell
from emolens.errors import ConfigError
from emolens.pipeline.rows import labels_of

FACES, UNITS, LOCK = "faces", "units", ".lock"
UNIT_COLUMNS = unit_schema(()).remove(unit_schema(()).get_field_index("faces"))
"""The columns of ``units/`` parts."""


def _write_atomic(table: pa.Table, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)


def _lock(path: Path) -> IO[str]:
    """The open, exclusively locked file ``path``; :class:`ConfigError` naming the holder when it is locked."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ConfigError(f"{path.parent}: another emolens batch run is writing into this folder ({holder}); "
                          "wait for it to end, or choose another --out") from None
    handle.truncate(0)
    handle.write(f"emolens batch, pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


class OutputDir:
    """An ``emolens batch --out`` folder (created if missing), locked for one run until :meth:`close` (or the end
    of a ``with`` block, or of the process); on opening, debris of a killed run is removed.

    Raises:
        ConfigError: another run holds the folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(path / LOCK)
        for sub in (FACES, UNITS):
            (path / sub).mkdir(parents=True, exist_ok=True)
            for temporary in (path / sub).glob(".*.tmp"):
                temporary.unlink()
        units = {p.name for p in (path / UNITS).glob("part-*.parquet")}
        for orphan in (p for p in (path / FACES).glob("part-*.parquet") if p.name not in units):
            orphan.unlink()
        for part in (path / FACES).glob("part-*.parquet"):  # written by an emolens before the face row
            if is_before_face_row(pq.read_schema(part)):
                _write_atomic(upgrade_faces(pq.read_table(part)), part)
        self._next = 1 + max((int(name[5:11]) for name in units), default=0)

    def close(self) -> None:
        """Let another run write into the folder."""
        self._lock.close()

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def units(self) -> pa.Table:
        """Every unit written so far (``units/``), empty in a new folder."""
        if self._next == 1:
            return UNIT_COLUMNS.empty_table()
        return pq.read_table(self.path / UNITS, schema=UNIT_COLUMNS)

    def write(self, units: pa.Table) -> None:
        """Write a part: the faces of ``units`` (with their ``track_offset`` applied), then the units."""
        name = f"part-{self._next:06d}.parquet"
        _write_atomic(flatten_faces(units), self.path / FACES / name)
        _write_atomic(units.select(UNIT_COLUMNS.names).cast(UNIT_COLUMNS), self.path / UNITS / name)
        self._next += 1

    def summarize(self, media: Sequence[MediaInput], bad: Sequence[BadInput]) -> pd.DataFrame:
        """Write ``summary.csv`` and ``problems.csv`` for these inputs, from every part written (this run's and
        earlier runs'); returns the summary."""
        sources = pd.DataFrame({"source": [m.source for m in media], "kind": [m.kind for m in media]}, dtype=str)
        units = self.units().to_pandas()
        units = units[units["source"].isin(sources["source"])]
        per_input = units.groupby("source").agg(
            segments=("segments", "max"), written=("segment", "count"), failed=("error", "count"),
            frames=("frames", "sum"), tracks=("tracks", "sum"), reason=("error", "first"))
        summary = sources.join(per_input, on="source")
        emotions = self._emotion_counts(summary["source"])
        summary["faces"] = emotions.sum(axis=1).reindex(summary["source"]).fillna(0).astype(int).to_numpy()
        summary["status"] = [_status(row) for row in summary.itertuples()]
        summary.loc[summary["status"] == "no face", "reason"] = "no face found"
        summary = pd.concat([summary, pd.DataFrame({"source": [b.source for b in bad], "kind": "",
                                                    "status": "failed", "reason": [b.reason for b in bad]},
                                                   dtype=str)])
        summary = summary[["source", "kind", "status", "reason", "segments", "written", "frames", "faces",
                           "tracks"]].join(emotions, on="source")
        summary = summary.fillna({c: 0 for c in summary.columns if c not in ("reason", "kind")})
        written = _csv_cells(summary)
        written.to_csv(self.path / "summary.csv", index=False, float_format="%.0f")
        written.loc[summary["status"] != "ok", ["source", "status", "reason"]].to_csv(
            self.path / "problems.csv", index=False)
        return summary

    def _emotion_counts(self, sources: pd.Series) -> pd.DataFrame:
        """Faces per emotion label (a column each, in the model's order) per source."""
        if self._next == 1:
            return pd.DataFrame(index=pd.Index([], name="source"))
        faces = pq.read_table(self.path / FACES, columns=["source", "emotion"]).to_pandas()
        labels = labels_of(pq.read_schema(next((self.path / FACES).glob("part-*.parquet"))).names)
        counts = pd.crosstab(faces["source"], faces["emotion"]).reindex(columns=labels, fill_value=0)
        return counts[counts.index.isin(sources)]


def _csv_cells(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its text cells and column names safe for spreadsheets (:func:`~emolens.csvcells.csv_cell`)."""
    text = {name: table[name].map(csv_cell) for name in table.select_dtypes(include=["object", "str"]).columns}
    return table.assign(**text).rename(columns=csv_cell)


def _status(row: object) -> str:
    written, failed, segments, faces = (getattr(row, name) for name in ("written", "failed", "segments", "faces"))
    if pd.isna(written):
        return "not done"
    if failed:
        return "failed" if failed == written else "partly failed"
    if written < segments:
        return "incomplete"
    return "ok" if faces else "no face"
