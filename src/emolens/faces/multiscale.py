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

Turned copies of the frame (+-40 degrees, short-range model) for tilted faces were tried and left out: the
full-range model at 256 px already finds faces tilted by up to 45 degrees, and the turned passes found no more
faces while adding false ones and ~1 ms each.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from emolens.faces.base import Detection, FaceDetector
from emolens.faces.blazeface import BlazeFaceModel, merge, tile_candidates
from emolens.providers import DEFAULT_PROVIDERS


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
        tile, tile_min_score: tiles of large photos, as in :class:`~emolens.faces.blazeface.BlazeFaceDetector`.
        threads: ONNX Runtime intra-op threads of each model.
        providers: ONNX Runtime execution providers of each model (set by the analyzer, not a detector option).
    """

    name = "blazeface-multi"

    def __init__(self, min_score: float = 0.5, short_min_score: float = 0.6, iou_threshold: float = 0.3,
                 full_side: int = 256, short_side: int = 160, pad: float = 0.2, tile: int = 768,
                 tile_min_score: float = 0.7, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        self.full = BlazeFaceModel("full", threads, providers)
        self.short = BlazeFaceModel("short", threads, providers)
        self.min_score, self.short_min_score, self.iou_threshold = min_score, short_min_score, iou_threshold
        self.full_side, self.short_side, self.pad = full_side, short_side, pad
        self.tile, self.tile_min_score = tile, tile_min_score
        # the short-range pass runs beside the full-range one (ONNX Runtime releases the GIL): on 2 cores detection
        # takes 2.9 ms per 640x480 frame instead of 3.8 (benchmarks/latency.py); one thread per detector
        self._short_pass = ThreadPoolExecutor(1, thread_name_prefix="blazeface-short")

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        short = self._short_pass.submit(self.short.candidates, image, self.short_min_score, self.short_side,
                                        int(round(self.pad * max(height, width))))
        found = [self.full.candidates(image, self.min_score, self.full_side), short.result()]
        found += tile_candidates(self.full, image, self.tile, self.tile_min_score)
        return without_groups(merge(found, width, height, self.iou_threshold))

    def close(self) -> None:
        self._short_pass.shutdown(wait=True)
