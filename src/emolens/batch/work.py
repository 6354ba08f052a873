"""What runs on the Ray workers: planning video segments and reading image files (parallel tasks), then decoding
and analysing units (a pool of actors, each holding one :class:`~emolens.pipeline.analyzer.Analyzer`).

Images are decoded in the actors, not in the tasks: a decoded photo is many times the size of its file, and
moving it between processes (an Arrow tensor block, the object store) cost more CPU than it saved: 56 ms of CPU
per photo over all of Ray's processes against 50 ms with decoding in the actors (``benchmarks/batch_throughput.py``,
at 4c1a922 for the former; ``docs/batch.md``).

A failure of one unit (an unreadable file, an undecodable video, even an unexpected exception) becomes that
unit's ``error`` and never stops the run.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from emolens.batch.inputs import display_path
from emolens.batch.records import face_record, unit_record, unit_schema
from emolens.errors import InputError
from emolens.pipeline.images import decode_image
from emolens.pipeline.options import AnalyzerOptions

if TYPE_CHECKING:
    pass

def _reason(exc: Exception) -> str:
    """Why a unit failed, as text any writer takes (a file name in it may hold bytes that are not UTF-8)."""
    if isinstance(exc, InputError):
        return display_path(str(exc))
    if isinstance(exc, OSError):
        return display_path(f"{getattr(exc, 'filename', None) or 'file'}: cannot read ({exc.strerror or exc})")
    return display_path(f"{type(exc).__name__}: {exc}")


def _plan(source: str, path: bytes, kind: str, segment_s: float, done: int) -> Iterator[dict[str, Any]]:
    """An input's units of work: an image is one; a video is cut into segments of ``segment_s`` seconds (frames
    ``start`` to ``end``; ``end`` -1: to the last frame, where the container does not say how many it holds),
    less its first ``done`` segments. ``source`` names the input in the output, ``path`` is its file name."""
    unit = {"source": source, "path": path, "kind": kind, "segment": 0, "segments": 1, "start": 0, "end": -1,
            "error": ""}
    if kind != "video":
        yield unit
        return
    from emolens.pipeline.video import VideoReader

    try:
        with VideoReader(os.fsdecode(path)) as reader:
            fps, frame_count = reader.fps, reader.frame_count
    except Exception as exc:  # noqa: BLE001 - a unit's failure is recorded, never raised
        yield {**unit, "error": _reason(exc)}
        return
    length = max(1, round(segment_s * fps))
    count = math.ceil(frame_count / length) if frame_count else 1
    for segment in range(done, count):
        end = min((segment + 1) * length, frame_count) if frame_count else -1
        yield {**unit, "segment": segment, "segments": count, "start": segment * length, "end": end}


def _read(unit: dict[str, Any]) -> dict[str, Any]:
    if unit["kind"] != "image":
        return {**unit, "data": b""}
    try:
        return {**unit, "data": Path(os.fsdecode(unit["path"])).read_bytes()}
    except Exception as exc:  # noqa: BLE001
        return {**unit, "data": b"", "error": _reason(exc)}


def prepare_units(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs (``source``, ``path``: the file name as bytes, ``kind``, ``segment_s``, ``done``: segments already
    written) -> their units of work, with the bytes of each image file (``data``); a failure goes to ``error``
    (``""``: none)."""
    columns = (batch[c] for c in ("source", "path", "kind", "segment_s", "done"))
    units = [_read(unit) for row in zip(*columns, strict=True)
             for unit in _plan(str(row[0]), bytes(row[1]), str(row[2]), float(row[3]), int(row[4]))]
    return {key: np.array([u[key] for u in units], dtype=object if key in ("data", "path") else None)
            for key in units[0]}


class AnalyzeUnits:
    """A Ray Data callable class: loads the model and the detector once per actor, then analyses batches of
    units (image files, or video segments that it reads itself, tracking faces through each) into
    :func:`~emolens.batch.records.unit_schema` rows. Images and video frames go through the same analyzer; each
    video segment gets its own :class:`~emolens.pipeline.tracking.VideoStream` (a fresh tracker)."""

    def __init__(self, analysis: AnalyzerOptions, every: int) -> None:
        from emolens.pipeline import analyzer as pipeline  # here: the driver never loads ONNX Runtime

        self.analyzer = pipeline.Analyzer.create_from_options(analysis)
        self.schema = unit_schema(self.analyzer.labels)
        self.every = every

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        rows = []
        for i, source in enumerate(batch["source"]):
            unit: dict[str, Any] = {"source": str(source), "kind": str(batch["kind"][i]),
                                    "segment": int(batch["segment"][i]), "segments": int(batch["segments"][i])}
            error = str(batch["error"][i])
            try:
                if error:
                    rows.append(unit_record(**unit, error=error))
                elif unit["kind"] == "video":
                    rows.append(unit_record(**unit, **self._segment(os.fsdecode(bytes(batch["path"][i])),
                                                                    int(batch["start"][i]), int(batch["end"][i]))))
                else:
                    image = decode_image(batch["data"][i], unit["source"], self.analyzer.max_pixels,
                                         formats=self.analyzer.image_formats)
                    faces = self.analyzer.analyze(image)
                    balance = self.analyzer.class_balance
                    rows.append(unit_record(**unit, frames=1, faces=[face_record(f, n, class_balance=balance)
                                                                     for n, f in enumerate(faces)]))
            except Exception as exc:  # noqa: BLE001
                rows.append(unit_record(**unit, error=_reason(exc)))
        return pa.Table.from_pylist(rows, schema=self.schema)

    def _segment(self, source: str, start: int, end: int) -> dict[str, Any]:
        """Frames ``start`` to ``end`` of a video, every ``every``-th (counted from frame 0), tracked from a
        fresh tracker: track ids run from 1 within the segment."""
        from emolens.pipeline.tracking import VideoStream
        from emolens.pipeline.video import VideoReader

        stream = VideoStream(self.analyzer)
        frames, faces = 0, []
        with VideoReader(source, start=start) as reader:
            for index, frame in zip(range(start, end) if end >= 0 else itertools.count(start), reader, strict=False):
                if index % self.every == 0:
                    frames += 1
                    time_s = index / reader.fps
                    found = stream.analyze(frame, time_s)
                    faces += [face_record(f, n, index, time_s, self.analyzer.class_balance)
                              for n, f in enumerate(found)]
        return {"frames": frames, "faces": faces}
