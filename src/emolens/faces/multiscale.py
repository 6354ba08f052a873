"""Multi-scale BlazeFace: the full-range model for small and mid-sized faces, the short-range model for close-ups
and faces cut by the frame edge, merged into one set of faces.

The passes and their settings were chosen by measurement with benchmarks/detection.py (recall and false faces per
condition, time per 640x480 frame; benchmarks/pipeline_results.md):

- the full-range model on the whole image at its own aspect ratio (no square letterbox: a 640x480 frame is seen at
  256x192, faces 1.33x larger than in the 192x192 letterbox), plus overlapping tiles on large photos, as in
  :class:`~emolens.faces.blazeface.BlazeFaceDetector`;
- the short-range model on the image with a grey border of ``pad`` times its longer side, so that a face filling
  the frame or cut by its edge is still seen with some surroundings.

Turned copies of the frame for tilted faces were tried and left out: the full-range model at 256 px already finds
faces tilted by up to 45 degrees, and each turned pass cost as much as the rest and added false faces.
"""

from __future__ import annotations

import numpy as np

from emolens.faces.base import Detection, FaceDetector
from emolens.faces.blazeface import BlazeFaceModel, merge, tile_candidates


class MultiScaleDetector(FaceDetector):
    """BlazeFace full- and short-range models in two passes (see the module docs).

    Args:
        min_score: confidence needed from the full-range model.
        short_min_score: confidence needed from the short-range model.
        iou_threshold: boxes overlapping more than this are merged (score-weighted).
        full_side: longer side of the full-range model's input, in pixels (rounded up to a multiple of 32).
        short_side: longer side of the short-range model's input, border included (a multiple of 16).
        pad: the short-range pass's border on each side, as a share of the image's longer side.
        tile, tile_min_score: tiles of large photos, as in :class:`~emolens.faces.blazeface.BlazeFaceDetector`.
        threads: ONNX Runtime intra-op threads of each model.
    """

    name = "blazeface-multi"

    def __init__(self, min_score: float = 0.6, short_min_score: float = 0.6, iou_threshold: float = 0.3,
                 full_side: int = 256, short_side: int = 160, pad: float = 0.15, tile: int = 768,
                 tile_min_score: float = 0.7, threads: int = 1) -> None:
        self.full, self.short = BlazeFaceModel("full", threads), BlazeFaceModel("short", threads)
        self.min_score, self.short_min_score, self.iou_threshold = min_score, short_min_score, iou_threshold
        self.full_side, self.short_side, self.pad = full_side, short_side, pad
        self.tile, self.tile_min_score = tile, tile_min_score

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = [self.full.candidates(image, self.min_score, self.full_side),
                 self.short.candidates(image, self.short_min_score, self.short_side,
                                       int(round(self.pad * max(height, width))))]
        found += tile_candidates(self.full, image, self.tile, self.tile_min_score)
        return merge(found, width, height, self.iou_threshold)
