"""The Arrow schemas of batch results: one row per unit of work (an image, or a segment of a video) carrying its
faces, and the flat one-row-per-face table written to Parquet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import pyarrow as pa
import pyarrow.compute as pc

from emolens.pipeline.results import Face


def face_type(labels: Sequence[str]) -> pa.StructType:
    """One face: where in the source (``frame``, ``time_s`` and ``track_id`` are null for images), its box,
    landmarks, emotion, the probability of every label and the detector's score."""
    return pa.struct([
        ("frame", pa.int64()), ("time_s", pa.float64()), ("track_id", pa.int64()), ("face", pa.int32()),
        ("x", pa.int32()), ("y", pa.int32()), ("w", pa.int32()), ("h", pa.int32()),
        ("landmarks", pa.list_(pa.list_(pa.float32(), 2))),
        ("emotion", pa.string()),
        ("scores", pa.struct([(label, pa.float32()) for label in labels])),
        ("detection_score", pa.float32()),
    ])


def unit_schema(labels: Sequence[str]) -> pa.Schema:
    """A unit's outcome. ``frames``: frames analysed (1 for an image); ``tracks``: track ids used in a video
    segment, numbered from 1 within it; ``error``: why the unit failed (null when it did not)."""
    return pa.schema([
        ("source", pa.string()), ("kind", pa.string()), ("segment", pa.int64()), ("segments", pa.int64()),
        ("frames", pa.int64()), ("tracks", pa.int64()), ("error", pa.string()),
        ("faces", pa.list_(face_type(labels))),
    ])


def face_record(face: Face, index: int, frame: Optional[int] = None, time_s: Optional[float] = None,
                ) -> dict[str, Any]:
    """A :class:`Face` as a ``face_type`` value; ``index``: its place among the faces of its image or frame."""
    x, y, w, h = face.box
    return {"frame": frame, "time_s": time_s, "track_id": face.track_id, "face": index, "x": x, "y": y, "w": w,
            "h": h, "landmarks": None if face.landmarks is None else [list(p) for p in face.landmarks],
            "emotion": face.emotion, "scores": face.scores, "detection_score": face.detection_score}


def unit_record(source: str, kind: str, segment: int = 0, segments: int = 1, frames: int = 0,
                faces: Sequence[dict[str, Any]] = (), error: Optional[str] = None) -> dict[str, Any]:
    """A ``unit_schema`` row."""
    tracks = max((f["track_id"] or 0 for f in faces), default=0)
    return {"source": source, "kind": kind, "segment": segment, "segments": segments, "frames": frames,
            "tracks": tracks, "error": error, "faces": list(faces)}


def flatten_faces(units: pa.Table) -> pa.Table:
    """One row per face of ``units``: ``source``, ``kind``, ``segment``, then the face's fields, with the
    unit's ``track_offset`` (see :class:`~emolens.batch.tracks.TrackNumbering`) added to its track ids."""
    faces = units.column("faces").combine_chunks()
    parents = pc.list_parent_indices(faces)
    flat: pa.StructArray = pc.list_flatten(faces)
    columns = {name: pc.take(units.column(name), parents) for name in ("source", "kind", "segment")}
    columns.update((field.name, flat.field(i)) for i, field in enumerate(flat.type))
    columns["track_id"] = pc.add(columns["track_id"], pc.take(units.column("track_offset"), parents))
    return pa.table(columns)
