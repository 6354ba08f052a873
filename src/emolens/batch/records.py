"""The Arrow schemas of batch results: one row per unit of work (an image, or a segment of a video) carrying its
faces, and the flat one-row-per-face table written to Parquet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import pyarrow as pa
import pyarrow.compute as pc

from emolens.pipeline.results import Face
from emolens.pipeline.rows import face_columns, face_row

_TYPES = {"source": pa.string(), "frame": pa.int64(), "time_s": pa.float64(), "face": pa.int32(),
          "track_id": pa.int64(), "x": pa.int32(), "y": pa.int32(), "w": pa.int32(), "h": pa.int32(),
          "detection_score": pa.float32(), "emotion": pa.string(), "class_balance": pa.float64()}
"""The Arrow type of each face row column but the labels' (probabilities: float32)."""
_LANDMARKS = pa.field("landmarks", pa.list_(pa.list_(pa.float32(), 2)))



def face_type(labels: Sequence[str]) -> pa.StructType:
    """One face: the columns of the face row (:func:`~emolens.pipeline.rows.face_columns`) but ``source``, which
    the unit carries, then its ``landmarks``."""
    return pa.struct([*((name, pa.float32() if name in labels else _TYPES[name])
                        for name in face_columns(labels) if name != "source"), _LANDMARKS])


def unit_schema(labels: Sequence[str]) -> pa.Schema:
    """A unit's outcome. ``frames``: frames analysed (1 for an image); ``tracks``: track ids used in a video
    segment, numbered from 1 within it; ``error``: why the unit failed (null when it did not)."""
    return pa.schema([
        ("source", pa.string()), ("kind", pa.string()), ("segment", pa.int64()), ("segments", pa.int64()),
        ("frames", pa.int64()), ("tracks", pa.int64()), ("error", pa.string()),
        ("faces", pa.list_(face_type(labels))),
    ])


def face_record(face: Face, index: int, frame: Optional[int] = None, time_s: Optional[float] = None,
                class_balance: Optional[float] = None) -> dict[str, Any]:
    """A :class:`Face` as a ``face_type`` value; ``index``: its place among the faces of its image or frame."""
    row = face_row(face, list(face.scores), index=index, frame=frame, time_s=time_s, class_balance=class_balance)
    del row["source"]
    return {**row, "landmarks": None if face.landmarks is None else [list(p) for p in face.landmarks]}


def unit_record(source: str, kind: str, segment: int = 0, segments: int = 1, frames: int = 0,
                faces: Sequence[dict[str, Any]] = (), error: Optional[str] = None) -> dict[str, Any]:
    """A ``unit_schema`` row."""
    tracks = max((f["track_id"] or 0 for f in faces), default=0)
    return {"source": source, "kind": kind, "segment": segment, "segments": segments, "frames": frames,
            "tracks": tracks, "error": error, "faces": list(faces)}


def flatten_faces(units: pa.Table) -> pa.Table:
    """One row per face of ``units``: the face row's columns in order (``source`` from the unit), then the
    unit's ``kind`` and ``segment`` and the face's ``landmarks``; the unit's ``track_offset`` (see
    :class:`~emolens.batch.tracks.TrackNumbering`) is added to its track ids."""
    faces = units.column("faces").combine_chunks()
    parents = pc.list_parent_indices(faces)
    flat: pa.StructArray = pc.list_flatten(faces)
    unit = {name: pc.take(units.column(name), parents) for name in ("source", "kind", "segment")}
    columns = {"source": unit["source"], **{field.name: flat.field(i) for i, field in enumerate(flat.type)}}
    columns["track_id"] = pc.add(columns["track_id"], pc.take(units.column("track_offset"), parents))
    landmarks = columns.pop("landmarks")
    return pa.table({**columns, "kind": unit["kind"], "segment": unit["segment"], "landmarks": landmarks})


def is_before_face_row(schema: pa.Schema) -> bool:
    """Whether a ``faces/`` part was written before the face row: probabilities in a ``scores`` struct."""
    return "scores" in schema.names


def upgrade_faces(table: pa.Table) -> pa.Table:
    """A ``faces/`` part written before the face row in today's columns: its ``scores`` struct as a column per
    label, and ``class_balance`` null (not recorded then)."""
    scores = table.column("scores")
    labels = [field.name for field in scores.type]
    columns = {name: table.column(name) for name in table.column_names}
    columns.update((label, pc.struct_field(scores, [i])) for i, label in enumerate(labels))
    columns["class_balance"] = pa.nulls(table.num_rows, _TYPES["class_balance"])
    return pa.table({name: columns[name] for name in [*face_columns(labels), "kind", "segment", "landmarks"]})
