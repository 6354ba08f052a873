"""What runs on the Ray workers: planning video segments, decoding images (parallel tasks) and analysing units
(a pool of actors, each holding one :class:`~emolens.pipeline.analyzer.Analyzer`).

A failure of one unit (an unreadable file, an undecodable video, even an unexpected exception) becomes that
unit's ``error`` and never stops the run.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import pyarrow as pa

from emolens.batch.records import face_record, unit_record, unit_schema
from emolens.errors import InputError
from emolens.pipeline.images import load_image

NO_IMAGE = np.zeros((0, 0, 3), np.uint8)
"""The ``image`` of a unit that has none (a video segment, a file that failed to decode)."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{getattr(exc, 'filename', None) or 'file'}: cannot read ({exc.strerror or exc})"
    return f"{type(exc).__name__}: {exc}"


def _plan(source: str, kind: str, segment_s: float, done: int) -> Iterator[dict[str, Any]]:
    """An input's units of work: an image is one; a video is cut into segments of ``segment_s`` seconds (frames
    ``start`` to ``end``; ``end`` -1: to the last frame, where the container does not say how many it holds),
    less its first ``done`` segments."""
    unit = {"source": source, "kind": kind, "segment": 0, "segments": 1, "start": 0, "end": -1, "error": ""}
    if kind != "video":
        yield unit
        return
    from emolens.pipeline.video import VideoReader

    try:
        reader = VideoReader(source)
    except Exception as exc:  # noqa: BLE001 - a unit's failure is recorded, never raised
        yield {**unit, "error": _reason(exc)}
        return
    length = max(1, round(segment_s * reader.fps))
    count = math.ceil(reader.frame_count / length) if reader.frame_count else 1
    for segment in range(done, count):
        end = min((segment + 1) * length, reader.frame_count) if reader.frame_count else -1
        yield {**unit, "segment": segment, "segments": count, "start": segment * length, "end": end}


def _decode(unit: dict[str, Any]) -> dict[str, Any]:
    if unit["kind"] != "image":
        return {**unit, "image": NO_IMAGE}
    try:
        return {**unit, "image": load_image(Path(unit["source"]))}
    except Exception as exc:  # noqa: BLE001
        return {**unit, "image": NO_IMAGE, "error": _reason(exc)}


def prepare_units(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs (``source``, ``kind``, ``segment_s``, ``done``: segments already written) -> their units of work,
    images decoded (an ``image`` column of BGR arrays); a failure goes to ``error`` (``""``: none)."""
    units = [_decode(unit) for row in zip(*(batch[c] for c in ("source", "kind", "segment_s", "done")))
             for unit in _plan(str(row[0]), str(row[1]), float(row[2]), int(row[3]))]
    columns = {key: np.array([u[key] for u in units]) for key in units[0] if key != "image"}
    columns["image"] = np.empty(len(units), dtype=object)
    columns["image"][:] = [u["image"] for u in units]
    return columns


class AnalyzeUnits:
    """A Ray Data callable class: loads the model and the detector once per actor, then analyses batches of
    units (decoded images, or video segments that it reads itself, tracking faces through each) into
    :func:`~emolens.batch.records.unit_schema` rows."""

    def __init__(self, model_path: Optional[str], detector: str, tta: bool, every: int) -> None:
        from emolens.pipeline.analyzer import Analyzer

        self.analyzer = Analyzer(model_path, detector=detector, tta=tta)
        self.schema = unit_schema(self.analyzer.labels)
        self.every = every

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        rows = []
        for i, source in enumerate(batch["source"]):
            unit = {"source": str(source), "kind": str(batch["kind"][i]), "segment": int(batch["segment"][i]),
                    "segments": int(batch["segments"][i])}
            error = str(batch["error"][i])
            try:
                if error:
                    rows.append(unit_record(**unit, error=error))
                elif unit["kind"] == "video":
                    rows.append(unit_record(**unit, **self._segment(unit["source"], int(batch["start"][i]),
                                                                    int(batch["end"][i]))))
                else:
                    faces = self.analyzer.analyze(batch["image"][i])
                    rows.append(unit_record(**unit, frames=1, faces=[face_record(f, n) for n, f in enumerate(faces)]))
            except Exception as exc:  # noqa: BLE001
                rows.append(unit_record(**unit, error=_reason(exc)))
        return pa.Table.from_pylist(rows, schema=self.schema)

    def _segment(self, source: str, start: int, end: int) -> dict[str, Any]:
        """Frames ``start`` to ``end`` of a video, every ``every``-th (counted from frame 0), tracked from a
        fresh tracker: track ids run from 1 within the segment."""
        from emolens.pipeline.video import FaceTracker, VideoAnalyzer, VideoReader

        reader = VideoReader(source, start=start)
        video = VideoAnalyzer(self.analyzer, FaceTracker())
        frames, faces = 0, []
        for index, frame in zip(range(start, end) if end >= 0 else itertools.count(start), reader):
            if index % self.every == 0:
                frames += 1
                time_s = index / reader.fps
                faces += [face_record(f, n, index, time_s) for n, f in enumerate(video.process(frame, time_s))]
        return {"frames": frames, "faces": faces}
