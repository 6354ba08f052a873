"""MediaPipe BlazeFace on ONNX Runtime: face boxes plus six landmarks (eyes, nose tip, mouth, ear tragions).

The ONNX files in ``models/`` were converted once from MediaPipe's .tflite models by
``tools/convert_blazeface.py`` (Apache-2.0, see NOTICE). Two variants:

- ``full`` (192x192 input, one 48x48 anchor grid): for photos. Large images are also searched in overlapping
  tiles, so that faces of ~40 pixels are found in a 5000-pixel photo.
- ``short`` (128x128 input, 896 anchors): faces filling much of the frame, as in a webcam; faster.

Anchors and box decoding follow MediaPipe's ``SsdAnchorsCalculator`` and ``TensorsToDetectionsCalculator``
configurations for these models; overlapping boxes are merged by score-weighted averaging, as MediaPipe does,
which also steadies boxes and landmarks from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from emolens.faces.base import Detection, FaceDetector


@dataclass(frozen=True)
class _Variant:
    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    min_score: float


VARIANTS = {
    "full": _Variant("blazeface_full.onnx", 192, (4,), 1, 0.6),
    "short": _Variant("blazeface_short.onnx", 128, (8, 16, 16, 16), 2, 0.5),
}


def ssd_anchors(size: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], in the model's output order (layers with the same stride share a grid)."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        same = sum(1 for s in strides[i:] if s == strides[i])
        grid = size // strides[i]
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, same * anchors_per_layer, axis=0))
        i += same
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou_threshold: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Merge overlapping ``(x0, y0, x1, y1)`` boxes: each cluster becomes the score-weighted mean of its boxes and
    points, with the cluster's best score."""
    order = np.argsort(-scores)
    boxes, scores, points = boxes[order], scores[order], points[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    left = np.ones(len(boxes), bool)
    merged = []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        inter_w = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        inter_h = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        inter = inter_w * inter_h
        cluster = left & (inter / (areas[i] + areas - inter + 1e-9) > iou_threshold)
        weights = scores[cluster] / scores[cluster].sum()
        merged.append((weights @ boxes[cluster], float(scores[i]), np.tensordot(weights, points[cluster], 1)))
        left &= ~cluster
    return merged


class BlazeFaceDetector(FaceDetector):
    """BlazeFace face detector.

    Args:
        variant: ``full`` or ``short`` (see the module docs).
        min_score: detections below this confidence are dropped (default: MediaPipe's value for the variant).
        iou_threshold: boxes overlapping more than this are merged.
        threads: ONNX Runtime intra-op threads; one is fastest for this small model (measured: more threads only
            add contention).
        tile: images whose longer side exceeds twice this are also searched in overlapping ``tile``-pixel
            windows, so that faces much smaller than the whole image are found too (0: never).
        tile_min_score: the confidence needed in a tile: tiles add many chances of a false positive (at the
            variant's own threshold they found hair curls on one of the 66 single-face photos).
    """

    def __init__(self, variant: str = "full", min_score: float | None = None, iou_threshold: float = 0.3,
                 threads: int = 1, tile: int = 768, tile_min_score: float = 0.7) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown BlazeFace variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        self.variant = VARIANTS[variant]
        self.name = "blazeface" if variant == "full" else f"blazeface-{variant}"
        self.min_score = self.variant.min_score if min_score is None else min_score
        self.iou_threshold = iou_threshold
        self.tile, self.tile_min_score = tile, tile_min_score
        path = Path(str(resources.files("emolens.faces") / "models" / self.variant.file))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._anchors = ssd_anchors(self.variant.size, self.variant.strides, self.variant.anchors_per_layer)

    def _input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Letterboxed (top-left), RGB, scaled to [-1, 1]; and the image-to-input scale."""
        size = self.variant.size
        scale = size / max(image.shape[:2])
        h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
        resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[:h, :w] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
        return (canvas.astype(np.float32) * (2.0 / 255.0) - 1.0)[None], scale

    def _candidates(self, region: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes ``(x0, y0, x1, y1)``, scores and landmarks (K, 6, 2) above ``min_score`` in one image region,
        in its pixels, before merging."""
        tensor, scale = self._input_tensor(region)
        raw, logits = self._session.run(None, {self._input: tensor})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
        keep = scores >= min_score
        to_pixels = self.variant.size / scale
        raw, anchors = raw[0, keep] / self.variant.size, self._anchors[keep]
        centres = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centres - half, centres + half], axis=1) * to_pixels
        points = (raw[:, 4:].reshape(len(raw), 6, 2) + anchors[:, None, :]) * to_pixels
        return boxes, scores[keep], points

    def _tiles(self, height: int, width: int) -> list[tuple[int, int]]:
        """Top-left corners of overlapping ``tile`` x ``tile`` windows over a large image (none for small ones)."""
        if not self.tile or max(height, width) <= 2 * self.tile:
            return []
        step = self.tile * 3 // 4

        def starts(length: int) -> list[int]:
            last = max(0, length - self.tile)
            return sorted(set(list(range(0, last, step)) + [last]))

        return [(x, y) for y in starts(height) for x in starts(width)]

    def detect(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        found = [self._candidates(image, self.min_score)]
        for x, y in self._tiles(height, width):
            boxes, scores, points = self._candidates(image[y:y + self.tile, x:x + self.tile], self.tile_min_score)
            # a face cut by a tile edge inside the image is left to the tile (or whole image) that holds it all
            inner = np.ones(len(boxes), bool)
            for axis, offset, length in ((0, x, width), (1, y, height)):
                inner &= (boxes[:, axis] > 1) | (offset == 0)
                inner &= (boxes[:, axis + 2] < self.tile - 1) | (offset + self.tile >= length)
            found.append((boxes[inner] + [x, y, x, y], scores[inner], points[inner] + [x, y]))
        boxes, scores, points = (np.concatenate(parts) for parts in zip(*found))
        faces = []
        for box, score, pts in weighted_nms(boxes, scores, points, self.iou_threshold):
            x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height])
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                faces.append(Detection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), score, pts))
        return faces
