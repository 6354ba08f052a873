"""MediaPipe BlazeFace on ONNX Runtime: face boxes plus six landmarks (eyes, nose tip, mouth, ear tragions).

The ONNX files in ``models/`` were converted once from MediaPipe's .tflite models by
``tools/convert_blazeface.py`` (Apache-2.0, see NOTICE). Two variants:

- ``full`` (trained at 192x192, one anchor per 4x4 cell): for photos. Large images are also searched in
  overlapping tiles, so that faces of ~40 pixels are found in a 5000-pixel photo.
- ``short`` (trained at 128x128, 896 anchors): faces filling much of the frame, as in a webcam; faster.

Both are fully convolutional and their ONNX inputs take any size (a multiple of 32, or 16): :class:`BlazeFaceModel`
runs one at the native square or at the image's own aspect ratio. Anchors and box decoding follow MediaPipe's
``SsdAnchorsCalculator`` and ``TensorsToDetectionsCalculator`` configurations for these models (anchor grids
follow the input size; offsets are in pixels of the trained input); overlapping boxes are merged by score-weighted
averaging, as MediaPipe does, which also steadies boxes and landmarks from frame to frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from emolens.errors import ConfigError, ModelError
from emolens.faces.base import Box, Detection, FaceDetector
from emolens.providers import DEFAULT_PROVIDERS, session_options

Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]
"""Boxes ``(x0, y0, x1, y1)`` (N, 4), scores (N,) and landmarks (N, 6, 2) in image pixels, before merging."""


@dataclass(frozen=True)
class _Variant:
    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    min_score: float
    multiple: int
    """Input sides must be multiples of this (the models are fully convolutional; see tools/convert_blazeface.py)."""


VARIANTS = {
    "full": _Variant("blazeface_full.onnx", 192, (4,), 1, 0.6, 32),
    "short": _Variant("blazeface_short.onnx", 128, (8, 16, 16, 16), 2, 0.5, 16),
}


def ssd_anchors(height: int, width: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Anchor centres (N, 2) in input pixels, in the model's output order (layers with the same stride share a
    grid) for an input of ``height`` x ``width``."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        same = sum(1 for s in strides[i:] if s == strides[i])
        ys, xs = np.mgrid[0:height // strides[i], 0:width // strides[i]]
        cells = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1) * strides[i]
        centres.append(np.repeat(cells, same * anchors_per_layer, axis=0))
        i += same
    return np.concatenate(centres).astype(np.float32)


def clusters(boxes: np.ndarray, iou_threshold: float) -> list[np.ndarray]:
    """Greedy clusters of ``(x0, y0, x1, y1)`` boxes, given best first: each is a mask of the boxes overlapping
    its first (best) box by more than ``iou_threshold`` and not in an earlier cluster."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    left = np.ones(len(boxes), bool)
    found = []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        inter_w = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        inter_h = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        inter = inter_w * inter_h
        cluster = left & (inter / (areas[i] + areas - inter + 1e-9) > iou_threshold)
        found.append(cluster)
        left &= ~cluster
    return found


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou_threshold: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Merge overlapping ``(x0, y0, x1, y1)`` boxes: each cluster becomes the score-weighted mean of its boxes and
    points, with the cluster's best score."""
    order = np.argsort(-scores)
    boxes, scores, points = boxes[order], scores[order], points[order]
    merged = []
    for cluster in clusters(boxes, iou_threshold):
        weights = scores[cluster] / scores[cluster].sum()
        merged.append((weights @ boxes[cluster], float(scores[cluster].max()),
                       np.tensordot(weights, points[cluster], 1)))
    return merged


def merge(found: list[Candidates], width: int, height: int, iou_threshold: float) -> list[Detection]:
    """Detections from the candidates of one or more passes over a ``width`` x ``height`` image, best first. A box
    may reach past the image edge (a face the edge cuts keeps its whole box, so that its crop keeps the model's
    framing); boxes with less than a pixel inside the image are dropped."""
    boxes, scores, points = (np.concatenate(parts) for parts in zip(*found, strict=True))
    faces = []
    for box, score, pts in weighted_nms(boxes, scores, points, iou_threshold):
        x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height])
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            faces.append(Detection((float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])),
                                   score, pts))
    return faces


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height``: halved with area averaging while that stays larger (OpenCV's
    fast path), then area-averaged, or bilinear when little is left to shrink (from 3/4 on: no aliasing to speak
    of). On a 640x480 frame to 256x192: 0.1 ms, against 1.3 ms for area averaging at once."""
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    bilinear = width >= 0.75 * image.shape[1] and height >= 0.75 * image.shape[0]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR if bilinear else cv2.INTER_AREA)


class BlazeFaceModel:
    """One BlazeFace ONNX model (``full`` or ``short``), run on an image at any input size.

    Args:
        variant: ``full`` or ``short``.
        threads: ONNX Runtime intra-op threads (see :func:`~emolens.providers.session_options`).
        providers: ONNX Runtime execution providers, in order of preference (see :mod:`emolens.providers`).
    """

    def __init__(self, variant: str, threads: int = 1, providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown BlazeFace variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        self.variant = VARIANTS[variant]
        path = Path(str(resources.files("emolens.faces") / "models" / self.variant.file))
        import onnxruntime as ort  # here, not at the top: `emolens serve` checks detector options before it forks

        try:
            self._session = ort.InferenceSession(str(path), session_options(threads), providers=list(providers))
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own exception types: a missing or damaged file (a broken install)
            raise ModelError(f"{path}: cannot load the BlazeFace model ({exc}); reinstall emolens") from None
        self._input = self._session.get_inputs()[0].name
        self._anchors: dict[tuple[int, int], np.ndarray] = {}

    def input_size(self, height: int, width: int, long_side: int | None = None) -> tuple[int, int]:
        """Input ``(height, width)`` for an image: the native square, or, with ``long_side``, the image's own
        shape scaled to that longer side and rounded up to the model's multiple."""
        if long_side is None:
            return self.variant.size, self.variant.size
        m, scale = self.variant.multiple, long_side / max(height, width)
        # at least one multiple: a very thin image (say 4000 x 3) would otherwise give a side of 0
        return max(m, -(-round(height * scale) // m) * m), max(m, -(-round(width * scale) // m) * m)

    def candidates(self, image: np.ndarray, min_score: float, long_side: int | None = None,
                   pad: int = 0) -> Candidates:
        """Faces above ``min_score`` in ``image``, in its pixels. The image, with a border of ``pad`` pixels on
        every side, is scaled to fit the input (see :meth:`input_size`) and put at its top left. The border mirrors
        the image, so that a face cut by the edge looks whole; faces centred in it (mirror images) are dropped."""
        in_h, in_w = self.input_size(image.shape[0] + 2 * pad, image.shape[1] + 2 * pad, long_side)
        scale = min(in_h / (image.shape[0] + 2 * pad), in_w / (image.shape[1] + 2 * pad))
        h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
        offset = round(pad * scale)
        framed = cv2.copyMakeBorder(cv2.cvtColor(shrink(image, w, h), cv2.COLOR_BGR2RGB), offset, offset, offset,
                                    offset, cv2.BORDER_REFLECT_101)[:in_h, :in_w]
        canvas = np.zeros((in_h, in_w, 3), np.uint8)
        canvas[:framed.shape[0], :framed.shape[1]] = framed
        tensor = canvas.astype(np.float32)[None]
        tensor *= 2.0 / 255.0  # to [-1, 1], in place (a new array each step costs ~0.4 ms)
        tensor -= 1.0
        raw, logits = self._session.run(None, {self._input: tensor})
        anchors = self._anchors.get((in_h, in_w))
        if anchors is None:
            anchors = self._anchors[in_h, in_w] = ssd_anchors(in_h, in_w, self.variant.strides,
                                                              self.variant.anchors_per_layer)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
        keep = scores >= min_score
        # offsets are in pixels of the native square input
        raw, anchors = raw[0, keep] * (1.0 / scale), (anchors[keep] - offset) / scale
        centres = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centres - half, centres + half], axis=1)
        points = raw[:, 4:].reshape(len(raw), 6, 2) + anchors[:, None, :]
        if not pad:
            return boxes, scores[keep], points
        # a face cut in half by the edge is mirrored whole around it, so its centre may lie a little outside; a box
        # larger than the image was a pattern mirrored into a face (deepface_img17 in face_photos)
        slack = half[:, :1] * 0.2
        inside = np.all((centres >= -slack) & (centres < [image.shape[1], image.shape[0]] + slack), axis=1)
        inside &= half.max(axis=1) * 2 <= min(image.shape[:2])
        return boxes[inside], scores[keep][inside], points[inside]


def tiles(height: int, width: int, tile: int) -> list[tuple[int, int]]:
    """Top-left corners of overlapping ``tile`` x ``tile`` windows over a large image (none for small ones)."""
    if not tile or max(height, width) <= 2 * tile:
        return []
    step = tile * 3 // 4

    def starts(length: int) -> list[int]:
        last = max(0, length - tile)
        return sorted(set(list(range(0, last, step)) + [last]))

    return [(x, y) for y in starts(height) for x in starts(width)]


def tile_candidates(model: BlazeFaceModel, image: np.ndarray, tile: int, min_score: float) -> list[Candidates]:
    """Candidates from overlapping tiles of a large image; a face cut by a tile edge inside the image is left to
    the tile (or whole image) that holds it all."""
    height, width = image.shape[:2]
    found = []
    for x, y in tiles(height, width, tile):
        boxes, scores, points = model.candidates(image[y:y + tile, x:x + tile], min_score)
        inner = np.ones(len(boxes), bool)
        for axis, offset, length in ((0, x, width), (1, y, height)):
            inner &= (boxes[:, axis] > 1) | (offset == 0)
            inner &= (boxes[:, axis + 2] < tile - 1) | (offset + tile >= length)
        found.append((boxes[inner] + [x, y, x, y], scores[inner], points[inner] + [x, y]))
    return found


NEAR_ZOOM = 2.0
"""A face is looked for again in the square window this many times its box's longer side, around its centre: it
may move by half its size between frames and still be seen whole, filling a quarter of the window."""


def candidates_near(model: BlazeFaceModel, image: np.ndarray, boxes: Sequence[Box],
                    min_score: float, side: int | None = None) -> list[Candidates]:
    """Candidates from a window around each box (see :data:`NEAR_ZOOM`), in image pixels; each window is given to
    the model at its native input size, or scaled to ``side`` on its longer side (see
    :meth:`BlazeFaceModel.input_size`)."""
    height, width = image.shape[:2]
    found = []
    for x, y, w, h in boxes:
        half = max(w, h) * NEAR_ZOOM / 2
        x0, y0 = max(0, int(x + w / 2 - half)), max(0, int(y + h / 2 - half))
        x1, y1 = min(width, int(x + w / 2 + half) + 1), min(height, int(y + h / 2 + half) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        near_boxes, scores, points = model.candidates(image[y0:y1, x0:x1], min_score, side)
        found.append((near_boxes + [x0, y0, x0, y0], scores, points + [x0, y0]))
    return found


class BlazeFaceDetector(FaceDetector):
    """BlazeFace face detector, one model on the whole image (letterboxed into its square input).

    Args:
        variant: ``full`` or ``short`` (see the module docs).
        min_score: detections below this confidence are dropped (default: MediaPipe's value for the variant).
        iou_threshold: boxes overlapping more than this are merged.
        threads: ONNX Runtime intra-op threads (see :class:`BlazeFaceModel`; set by the analyzer, not a detector
            option).
        tile: images whose longer side exceeds twice this are also searched in overlapping ``tile``-pixel
            windows, so that faces much smaller than the whole image are found too (0: never).
        tile_min_score: the confidence needed in a tile: tiles add many chances of a false positive (at the
            variant's own threshold they found hair curls on one of the 66 single-face photos).
        providers: ONNX Runtime execution providers (set by the analyzer, not a detector option).
    """

    def __init__(self, variant: str = "full", min_score: float | None = None, iou_threshold: float = 0.3,
                 threads: int = 1, tile: int = 768, tile_min_score: float = 0.7,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        self.model = BlazeFaceModel(variant, threads, providers)
        self.name = "blazeface" if variant == "full" else f"blazeface-{variant}"
        self.min_score = self.model.variant.min_score if min_score is None else min_score
        self.iou_threshold = iou_threshold
        self.tile, self.tile_min_score = tile, tile_min_score

    def detect(self, image: np.ndarray) -> list[Detection]:
        found = [self.model.candidates(image, self.min_score)]
        found += tile_candidates(self.model, image, self.tile, self.tile_min_score)
        return merge(found, image.shape[1], image.shape[0], self.iou_threshold)
