"""Following faces across the frames of one video or camera stream, after a stateless
:class:`~emolens.pipeline.analyzer.Analyzer` (as supervision composes ``ByteTrack.update_with_detections`` and
``DetectionsSmoother`` after a model): :class:`FaceTracker` gives each face a track ID and smooths its scores;
:class:`VideoStream` feeds one stream's frames through an analyzer and a tracker.

The constants live here once; the live page's tracker (``static/js/tracker.js``) reads them from the page
(:data:`TRACKING`, rendered into ``live.html``)."""

from __future__ import annotations

import collections
import dataclasses
import math
import numbers
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from emolens.errors import ConfigError, InputError
from emolens.pipeline.images import ImageSource
from emolens.pipeline.options import check_whole_number
from emolens.pipeline.results import Face

if TYPE_CHECKING:
    from emolens.faces import Box, Detection
    from emolens.pipeline.analyzer import Analyzer

    _Detected = tuple[np.ndarray, float, list[Detection]]
    """A frame's pixels, time and faces found, waiting to be classified."""

SMOOTHING_S = 0.3
"""Time constant of the emotion smoothing of each tracked face, in seconds."""
IOU_THRESHOLD = 0.3
"""A face continues a track when their boxes overlap (intersection over union) at least this much."""
FORGET_S = 1.0
"""A track unseen for this long is dropped; a face that returns later gets a new ID."""
SEARCH_EVERY_S = 0.25
"""A stream's whole frame is searched for faces at least this often; in between, faces are looked for only near
where they were a frame ago (:meth:`~emolens.pipeline.analyzer.Analyzer.detect_near`), as MediaPipe's face tracking
does, unless one of them is not found there. A face that enters the frame is found within this time."""
NEAR_MAX_FACES = 2
"""Looking near a face costs a detector pass of its own (a third of a whole-frame search's input with the default
detector): with more faces than this, the whole frame is searched."""

TRACKING = {"smoothingS": SMOOTHING_S, "iouThreshold": IOU_THRESHOLD, "forgetS": FORGET_S}
"""The constants as ``tracker.js`` takes them (``Tracker.create(TRACKING)``)."""


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every ``(x, y, w, h)`` box in ``a`` (N, 4) with every one in ``b`` (M, 4)."""
    ax0, ay0, ax1, ay1 = a[:, None, 0], a[:, None, 1], a[:, None, 0] + a[:, None, 2], a[:, None, 1] + a[:, None, 3]
    bx0, by0, bx1, by1 = b[None, :, 0], b[None, :, 1], b[None, :, 0] + b[None, :, 2], b[None, :, 1] + b[None, :, 3]
    inter = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None) * \
        np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    iou: np.ndarray = inter / np.maximum(union, 1e-9)
    return iou


def _check_seconds(name: str, value: object) -> float:
    """``value`` as a float when it is a finite number of seconds, 0 or more; else :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a number of seconds, 0 or more, got {value!r}")
    return float(value)


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    scores: np.ndarray
    last_seen_s: float


@dataclass
class FaceTracker:
    """Gives each face an ID that persists across frames (greedy matching by box overlap) and smooths its
    emotion scores with an exponential moving average over time. One tracker per stream.

    Attributes:
        smoothing_s: time constant of the moving average, in seconds (0: no smoothing).
        iou_threshold: a face continues a track when their boxes overlap at least this much.
        forget_s: a track unseen for this long is dropped; a face that returns later gets a new ID.

    Raises:
        ConfigError: a value out of range.
    """

    smoothing_s: float = SMOOTHING_S
    iou_threshold: float = IOU_THRESHOLD
    forget_s: float = FORGET_S
    _tracks: list[_Track] = field(default_factory=list, init=False, repr=False)
    _next_id: int = field(default=1, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("smoothing_s", "forget_s"):
            _check_seconds(name, getattr(self, name))
        if isinstance(self.iou_threshold, bool) or not isinstance(self.iou_threshold, numbers.Real) \
                or not 0 < self.iou_threshold <= 1:
            raise ConfigError(f"iou_threshold must be a number above 0, up to 1, got {self.iou_threshold!r}")

    def update(self, faces: list[Face], time_s: float) -> list[Face]:
        """This frame's faces (taken at ``time_s`` seconds), matched to tracks: the same faces with ``track_id``
        set and ``scores`` (and so ``emotion``) smoothed."""
        self._tracks = [t for t in self._tracks if time_s - t.last_seen_s <= self.forget_s]
        boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
        assigned: dict[int, _Track] = {}
        if self._tracks and len(boxes):
            overlap = iou_matrix(np.stack([t.box for t in self._tracks]), boxes)
            matches = np.argwhere(overlap >= self.iou_threshold).tolist()
            for ti, di in sorted(matches, key=lambda p: -overlap[p[0], p[1]]):
                if di not in assigned and self._tracks[ti] not in assigned.values():
                    assigned[di] = self._tracks[ti]
        return [self._follow(face, box, assigned.get(i), time_s)
                for i, (face, box) in enumerate(zip(faces, boxes, strict=True))]

    def _follow(self, face: Face, box: np.ndarray, track: Optional[_Track], time_s: float) -> Face:
        labels = list(face.scores)
        probs = np.array([face.scores[label] for label in labels], np.float64)
        if track is None:
            track = _Track(self._next_id, box, probs, time_s)
            self._next_id += 1
            self._tracks.append(track)
        else:
            dt = time_s - track.last_seen_s
            alpha = 1.0 if self.smoothing_s <= 0 else 1.0 - math.exp(-max(dt, 1e-3) / self.smoothing_s)
            track.scores = alpha * probs + (1 - alpha) * track.scores
            track.box, track.last_seen_s = box, time_s
        scores = dict(zip(labels, map(float, track.scores), strict=True))
        return dataclasses.replace(face, scores=scores, emotion=max(scores, key=scores.__getitem__),
                                   track_id=track.track_id)


class VideoStream:
    """The frames of one video or camera stream, in time order, through a shared analyzer and this stream's
    :class:`FaceTracker`: faces with track IDs and smoothed scores. The analyzer keeps no state, so many streams
    (and image calls) may share it; a stream is used from one thread at a time. Frames take the upright pass
    (``any_angle=False``): a stream rarely turns over. Between searches of the whole frame, at most every
    ``search_every_s``, the faces of the last frame are looked for near where they were (see
    :data:`SEARCH_EVERY_S`).

    Args:
        analyzer: the analyzer that finds and classifies the faces of each frame.
        smoothing_s: the tracker's smoothing time constant, in seconds (0: none).
        search_every_s: search the whole frame at least this often, in seconds (0: every frame).
    """

    def __init__(self, analyzer: Analyzer, smoothing_s: float = SMOOTHING_S,
                 search_every_s: float = SEARCH_EVERY_S) -> None:
        self.analyzer = analyzer
        self.tracker = FaceTracker(smoothing_s=smoothing_s)
        self.search_every_s = _check_seconds("search_every_s", search_every_s)
        self._last_s: Optional[float] = None  # the last frame's time, checked when a frame comes in
        self._searched_s: float = -math.inf  # when the whole frame was last searched
        self._boxes: list[Box] = []  # the faces found in the last frame detected

    def analyze(self, frame: ImageSource, time_s: float, tta: Optional[bool] = None) -> list[Face]:
        """The faces in the frame taken at ``time_s`` seconds, tracked.

        Raises:
            InputError: the frame is unreadable, or ``time_s`` is not a number later than the previous frame's.
        """
        image, time_s = self._take(frame, time_s)
        return self._classify(image, time_s, self._detect(image, time_s), tta)

    def analyze_video(self, frames: Iterable[np.ndarray], fps: float, every: int = 1,
                      tta: Optional[bool] = None) -> Iterator[tuple[int, np.ndarray, Optional[list[Face]]]]:
        """Each frame of a video (frame ``i`` taken at ``i / fps`` seconds) with its tracked faces, or None for
        the frames between every ``every``-th, in order. The faces of one analysed frame are cropped and classified
        while the next analysed frame's faces are found on another thread (ONNX Runtime releases the GIL), so a
        video uses two cores; the results are those of :meth:`analyze` on each analysed frame.

        Raises:
            InputError: as :meth:`analyze`.
            ConfigError: ``every`` is not a whole number, 1 or more.
        """
        every = check_whole_number("every", every, 1, "a whole number of frames, 1 or more")
        waiting: collections.deque[tuple[int, np.ndarray, Optional[Future[_Detected]]]] = collections.deque()
        with ThreadPoolExecutor(1, thread_name_prefix="video-detect") as finder:
            for index, frame in enumerate(frames):
                detecting = None
                if index % every == 0:
                    image, time_s = self._take(frame, index / fps)
                    detecting = finder.submit(self._found, image, time_s)
                waiting.append((index, frame, detecting))
                # out go the frames before the newest analysed one, whose faces are being found meanwhile
                while len(waiting) > 1 and (detecting is not None or waiting[0][2] is None):
                    yield self._done(waiting.popleft(), tta)
            while waiting:
                yield self._done(waiting.popleft(), tta)

    def _done(self, item: tuple[int, np.ndarray, Optional[Future[_Detected]]], tta: Optional[bool]
              ) -> tuple[int, np.ndarray, Optional[list[Face]]]:
        index, frame, detecting = item
        return index, frame, None if detecting is None else self._classify(*detecting.result(), tta)

    def _take(self, frame: ImageSource, time_s: float) -> tuple[np.ndarray, float]:
        """The frame's pixels and time, once its time is checked against the last frame's."""
        if not isinstance(time_s, numbers.Real) or isinstance(time_s, bool) or not math.isfinite(time_s):
            raise InputError(f"time_s must be a number of seconds, got {time_s!r}")
        if self._last_s is not None and time_s <= self._last_s:
            raise InputError(f"video frame times must increase: {time_s:g} s came after {self._last_s:g} s "
                             "(a new VideoStream starts a new video)")
        image = self.analyzer.load(frame)
        self._last_s = float(time_s)
        return image, self._last_s

    def _found(self, image: np.ndarray, time_s: float) -> _Detected:
        return image, time_s, self._detect(image, time_s)

    def _detect(self, image: np.ndarray, time_s: float) -> list[Detection]:
        """The frame's faces: looked for near the last frame's (see :data:`SEARCH_EVERY_S`), else searched for in
        the whole frame."""
        detections = self._near(image, time_s)
        if detections is None:
            detections = self.analyzer.detect(image, any_angle=False)
            self._searched_s = time_s
        self._boxes = [d.box for d in detections]
        return detections

    def _near(self, image: np.ndarray, time_s: float) -> Optional[list[Detection]]:
        """The last frame's faces found again near their boxes, or None where the whole frame must be searched:
        time for it, no face or too many to follow, a face not found again, or a detector that cannot."""
        boxes = self._boxes
        if not boxes or len(boxes) > NEAR_MAX_FACES or time_s - self._searched_s >= self.search_every_s:
            return None
        found = self.analyzer.detect_near(image, boxes)
        return found if found is not None and len(found) >= len(boxes) else None

    def _classify(self, image: np.ndarray, time_s: float, detections: list[Detection],
                  tta: Optional[bool]) -> list[Face]:
        return self.tracker.update(self.analyzer.faces(image, detections, tta), time_s)
