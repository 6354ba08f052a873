"""Multi-scale BlazeFace: the full-range model for small and mid-sized faces, the short-range model for close-ups
and faces cut by the frame edge, merged into one set of faces.

The passes and their settings were chosen by measurement with benchmarks/detection.py (recall and false faces per
condition, time per 640x480 frame; benchmarks/pipeline_results.md):

- the full-range model on the whole image at its own aspect ratio (no square letterbox: a 640x480 frame is seen at
  256x192, faces 1.33x larger than in the 192x192 letterbox), plus overlapping tiles on large photos, as in
  :class:`~emolens.faces.blazeface.BlazeFaceDetector`;
- the short-range model on the image with a mirrored border of ``pad`` times its longer side, so that a face
  filling the frame is seen with some surroundings, and a face cut by the edge is completed by its mirror image
  (with a grey or repeated border the edge faces of the crowded selfie in face_photos scored far lower).

The short-range pass runs only where the full-range pass leaves room for a face it missed: when the full-range
model scores something outside the faces it found at ``short_gate_score`` or more, or at ``edge_gate_score`` or
more in a box that the frame edge cuts. The faces the full-range pass misses and the short-range pass finds are
cut by the edge or close-ups, and the full-range model still gives them a weak score (tests/test_faces.py: the
crowded selfie's cut faces are found). On most frames nothing is left unexplained and the pass is skipped: the
detector then costs the full-range pass alone, with the same recall on the scenes' target set and the photos as
with the pass on every frame (``benchmarks/detection.py --ungated``; benchmarks/pipeline_results.md, issue 21).
The turned passes for photos at any angle are another module's (:mod:`emolens.faces.rotated`).

Turned copies of the frame (+-40 degrees, short-range model) for tilted faces were tried and left out: the
full-range model at 256 px already finds faces tilted by up to 45 degrees, and the turned passes found no more
faces while adding false ones and ~1 ms each.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from emolens.faces.base import Box, Detection, FaceDetector
from emolens.faces.blazeface import BlazeFaceModel, candidates_near, merge, tile_candidates
from emolens.providers import DEFAULT_PROVIDERS

NEAR_SIDE = 128
"""Longer side of the full-range model's input when it looks near a known face (:meth:`MultiScaleDetector.
detect_near`): the window, twice the face, fits this, so the face is about 64 px to the model."""


def room_for_a_face(boxes: np.ndarray, scores: np.ndarray, width: int, height: int, sure_score: float,
                    gate_score: float, edge_score: float) -> bool:
    """Whether a candidate below ``sure_score``, with its centre outside every candidate at or above it, scores
    ``gate_score`` or more, or ``edge_score`` or more with its box cut by the edge of the ``width`` x ``height``
    frame."""
    sure, unsure = boxes[scores >= sure_score], scores < sure_score
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = ((cx[:, None] > sure[:, 0]) & (cx[:, None] < sure[:, 2]) & (cy[:, None] > sure[:, 1])
              & (cy[:, None] < sure[:, 3])).any(axis=1)
    cut = (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > width) | (boxes[:, 3] > height)
    return bool((unsure & ~inside & ((scores >= gate_score) | (cut & (scores >= edge_score)))).any())


def without_groups(faces: list[Detection]) -> list[Detection]:
    """``faces`` less the boxes around a group: a box more than twice as wide as a better-scored face whose centre
    it holds (the short-range model, seeing a crowd small, sometimes boxes several faces as one)."""
    kept = []
    for face in faces:
        x, y, w, h = face.box
        if not any(other.score > face.score and other.box[2] * 2 < w
                   and x < other.box[0] + other.box[2] / 2 < x + w and y < other.box[1] + other.box[3] / 2 < y + h
                   for other in faces):
            kept.append(face)
    return kept


class MultiScaleDetector(FaceDetector):
    """BlazeFace full- and short-range models in two passes (see the module docs).

    Args:
        min_score: confidence needed from the full-range model (lower than MediaPipe's 0.6: at 0.5 faces of 24-48
            px were found 0.93 of the time instead of 0.81, with no false face more on the photos).
        short_min_score: confidence needed from the short-range model (at 0.5, mirrored patterns at the edge of
            3 of the 69 photos became faces).
        iou_threshold: boxes overlapping more than this are merged (score-weighted).
        full_side: longer side of the full-range model's input, in pixels (rounded up to a multiple of 32).
        short_side: longer side of the short-range model's input, border included (a multiple of 16).
        pad: the short-range pass's border on each side, as a share of the image's longer side.
        short_gate_score, edge_gate_score: the short-range pass runs when the full-range model scores
            something outside the faces it found at least ``short_gate_score``, or at least ``edge_gate_score`` in
            a box cut by the frame edge (both 0: always; see the module docs).
        tile, tile_min_score: tiles of large photos, as in :class:`~emolens.faces.blazeface.BlazeFaceDetector`.
        threads, providers: ONNX Runtime intra-op threads and execution providers of each model (set by the
            analyzer, not detector options).
    """

    name = "blazeface-multi"

    def __init__(self, min_score: float = 0.5, short_min_score: float = 0.6, iou_threshold: float = 0.3,
                 full_side: int = 256, short_side: int = 160, pad: float = 0.2, short_gate_score: float = 0.3,
                 edge_gate_score: float = 0.08, tile: int = 768, tile_min_score: float = 0.7, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        self.full = BlazeFaceModel("full", threads, providers)
        self.short = BlazeFaceModel("short", threads, providers)
        self.min_score, self.short_min_score, self.iou_threshold = min_score, short_min_score, iou_threshold
        self.full_side, self.short_side, self.pad = full_side, short_side, pad
        self.short_gate_score, self.edge_gate_score = short_gate_score, edge_gate_score
        self.tile, self.tile_min_score = tile, tile_min_score
        # the short-range pass, where it runs, runs beside the tiles of a large photo (ONNX Runtime releases the
        # GIL); one thread per detector
        self._short_pass = ThreadPoolExecutor(1, thread_name_prefix="blazeface-short")

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        boxes, scores, points = self.full.candidates(
            image, min(self.min_score, self.short_gate_score, self.edge_gate_score), self.full_side)
        short = None
        if room_for_a_face(boxes, scores, width, height, self.min_score, self.short_gate_score,
                           self.edge_gate_score):
            short = self._short_pass.submit(self.short.candidates, image, self.short_min_score, self.short_side,
                                            int(round(self.pad * max(height, width))))
        sure = scores >= self.min_score
        found = [(boxes[sure], scores[sure], points[sure])]
        found += tile_candidates(self.full, image, self.tile, self.tile_min_score)
        if short is not None:
            found.append(short.result())
        return without_groups(merge(found, width, height, self.iou_threshold))

    def detect_near(self, image: np.ndarray, boxes: Sequence[Box]) -> list[Detection]:
        """The full-range model alone, on a window around each box scaled to :data:`NEAR_SIDE`: a third of the
        whole-frame pass's input per face, with the same model's framing of the face (the crops, and so the
        scores, stay those of the whole-frame pass; the short-range model frames faces differently)."""
        found = candidates_near(self.full, image, boxes, self.min_score, NEAR_SIDE)
        return without_groups(merge(found, image.shape[1], image.shape[0], self.iou_threshold)) if found else []

    def close(self) -> None:
        self._short_pass.shutdown(wait=True)
