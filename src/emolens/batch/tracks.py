"""Track ids unique per video, from segments tracked independently and finishing in any order."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


class TrackNumbering:
    """Releases the segments of each video in order, each with the offset to add to its track ids (the tracks
    of the segments before it): segment ids ``1..n`` become ``offset+1..offset+n``.

    A segment that finishes before an earlier one waits here, so the segments written for a video are always
    its first ones; a rerun starts from them (``done``: the units already written, with their ``tracks``).
    Images pass straight through with offset 0.
    """

    def __init__(self, done: pa.Table) -> None:
        self._next: dict[str, int] = {}
        self._offset: dict[str, int] = {}
        self._waiting: dict[tuple[str, int], pa.Table] = {}
        videos = done.filter(pc.equal(done.column("kind"), "video"))
        for row in videos.group_by("source").aggregate([("segment", "count"), ("tracks", "sum")]).to_pylist():
            self._next[row["source"]], self._offset[row["source"]] = row["segment_count"], row["tracks_sum"]

    def next_segments(self) -> dict[str, int]:
        """How many segments of each video are written: the segments to skip."""
        return dict(self._next)

    @property
    def waiting(self) -> int:
        """Finished segments held back until an earlier segment of their video finishes."""
        return len(self._waiting)

    def release(self, units: pa.Table) -> pa.Table:
        """``units`` (plus those waiting) that can be written now, with a ``track_offset`` column."""
        is_video = pc.equal(units.column("kind"), "video")
        images = units.filter(pc.invert(is_video))
        ready = [images.append_column("track_offset", pa.array([0] * images.num_rows, pa.int64()))]
        videos = units.filter(is_video)
        for i, (source, segment) in enumerate(zip(videos.column("source").to_pylist(),
                                                   videos.column("segment").to_pylist(), strict=True)):
            self._waiting[source, segment] = videos.slice(i, 1)
        for source in set(videos.column("source").to_pylist()):
            while (source, self._next.get(source, 0)) in self._waiting:
                unit = self._waiting.pop((source, self._next.get(source, 0)))
                offset = self._offset.get(source, 0)
                ready.append(unit.append_column("track_offset", pa.array([offset], pa.int64())))
                self._next[source] = self._next.get(source, 0) + 1
                self._offset[source] = offset + unit.column("tracks")[0].as_py()
        return pa.concat_tables(ready)
