"""Overlays for annotated images, videos and the webcam window: boxes, landmarks, emotion labels and scores.

Labels are laid out before anything is drawn (:func:`layout_labels`), so that none covers another or leaves the
image: each face's label goes above its box, below it, or inside it at the top or the bottom, whichever is free
(free of other faces first, then of labels only), else at the nearest free place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from emolens.labels import bgr, label_colours
from emolens.pipeline.results import Face

FONT = cv2.FONT_HERSHEY_SIMPLEX
RUNNER_UP_SCALE = 0.8
"""Runner-up lines are drawn this much smaller than the face's main label."""

Rect = tuple[int, int, int, int]
"""``(x, y, w, h)`` in pixels."""


@dataclass(frozen=True)
class Label:
    """A block of text lines placed on an image: ``lines`` of ``(text, BGR colour)``, the first at ``scale`` and
    the rest (runners-up) smaller, in ``rect``, the rectangle the block covers."""

    lines: tuple[tuple[str, tuple[int, int, int]], ...]
    rect: Rect
    scale: float


def _thickness(scale: float) -> int:
    return max(1, round(scale * 2))


def _line_sizes(lines: Sequence[str], scale: float) -> list[tuple[int, int]]:
    """Width and height of each line's background (the text with a pad of ``scale * 2`` px around it)."""
    sizes = []
    for i, text in enumerate(lines):
        s = scale if i == 0 else scale * RUNNER_UP_SCALE
        (tw, th), base = cv2.getTextSize(text, FONT, s, _thickness(s))
        pad = max(1, round(s * 2))
        sizes.append((tw + 2 * pad, th + base + 2 * pad))
    return sizes


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _first_free(candidates: Sequence[tuple[int, int]], size: tuple[int, int], shape: tuple[int, int],
                taken: Sequence[Rect]) -> Optional[Rect]:
    """The first candidate top-left corner whose rectangle of ``size`` lies inside an image of ``shape`` (h, w)
    and overlaps none of ``taken``."""
    w, h = size
    for x, y in candidates:
        rect = (x, y, w, h)
        if 0 <= x and x + w <= shape[1] and 0 <= y and y + h <= shape[0] and \
                not any(_overlaps(rect, t) for t in taken):
            return rect
    return None


def _candidates(box: Rect, size: tuple[int, int], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Corners for a label of ``size`` by a face ``box``, in order of preference: above the box, below it, inside
    it at the top, inside at the bottom; each at the box's left edge (kept in the image) and at its right."""
    (x, y, bw, bh), (w, h) = box, size
    xs = [min(max(0, x), shape[1] - w), min(max(0, x + bw - w), shape[1] - w)]
    return [(cx, cy) for cy in (y - h, y + bh, y, y + bh - h) for cx in xs]


def _nearest(box: Rect, size: tuple[int, int], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Every corner on a grid over the image (steps of half the label), nearest the box's top-left first."""
    w, h = size
    grid = [(cx, cy) for cy in range(0, shape[0] - h + 1, max(1, h // 2))
            for cx in range(0, shape[1] - w + 1, max(1, w // 4))]
    return sorted(grid, key=lambda c: (c[0] - box[0]) ** 2 + (c[1] - box[1] + h) ** 2)


def _place(box: Rect, size: tuple[int, int], shape: tuple[int, int], labels: Sequence[Rect],
           faces: Sequence[Rect]) -> Optional[Rect]:
    """Where a label of ``size`` goes by ``box``: beside it free of other labels and faces, else free of labels,
    else the nearest free place anywhere; None if the image has no room left."""
    near = _candidates(box, size, shape)
    return (_first_free(near, size, shape, [*labels, *faces]) or _first_free(near, size, shape, labels)
            or _first_free(_nearest(box, size, shape), size, shape, labels))


def _fit(lines: Sequence[str], scale: float, shape: tuple[int, int]) -> tuple[float, tuple[int, int]]:
    """The scale (at most ``scale``) at which the lines fit the image's width and height, and their block size."""
    for _ in range(8):
        sizes = _line_sizes(lines, scale)
        w, h = max(s[0] for s in sizes), sum(s[1] for s in sizes)
        if (w <= shape[1] and h <= shape[0]) or scale < 0.1:
            return scale, (w, h)
        scale *= 0.8 * min(1.0, shape[1] / w, shape[0] / h)
    return scale, (w, h)


def layout_labels(faces: Sequence[Face], shape: tuple[int, ...], scale: float, runners_up: int = 0,
                  reserved: Sequence[Rect] = ()) -> list[Optional[Label]]:
    """Place each face's label: ``#id emotion NN%`` and, with ``runners_up`` > 0, that many next-likeliest
    emotions under it. No label overlaps another, a ``reserved`` rectangle or the image's edge; a label is
    None only when no free place is left for it. Faces are placed in order of confidence."""
    size = (shape[0], shape[1])
    boxes = [tuple(f.box) for f in faces]
    taken: list[Rect] = list(reserved)
    placed: list[Optional[Label]] = [None] * len(faces)
    for i in sorted(range(len(faces)), key=lambda i: -faces[i].confidence):
        face = faces[i]
        colours = {label: bgr(c) for label, c in label_colours(tuple(face.scores)).items()}  # the model's labels
        prefix = "" if face.track_id is None else f"#{face.track_id} "
        ranked = sorted(face.scores.items(), key=lambda kv: -kv[1])[1:1 + runners_up]
        lines = ((f"{prefix}{face.emotion} {face.confidence:.0%}", colours[face.emotion]),
                 *((f"{name} {p:.0%}", colours[name]) for name, p in ranked))
        for count in (len(lines), 1):  # without the runners-up when the whole block finds no room
            fitted, block = _fit([text for text, _ in lines[:count]], scale, size)
            others = [b for j, b in enumerate(boxes) if j != i]
            rect = _place(boxes[i], block, size, taken, others)  # type: ignore[arg-type]
            if rect is not None:
                placed[i] = Label(lines[:count], rect, fitted)
                taken.append(rect)
                break
    return placed


def _draw_label(image: np.ndarray, label: Label) -> None:
    x, y = label.rect[:2]
    sizes = _line_sizes([text for text, _ in label.lines], label.scale)
    for i, ((text, colour), (w, h)) in enumerate(zip(label.lines, sizes, strict=True)):
        s = label.scale if i == 0 else label.scale * RUNNER_UP_SCALE
        pad = max(1, round(s * 2))
        (_, _), base = cv2.getTextSize(text, FONT, s, _thickness(s))
        cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), colour, cv2.FILLED)
        cv2.putText(image, text, (x + pad, y + h - pad - base), FONT, s, (0, 0, 0), _thickness(s), cv2.LINE_AA)
        y += h


def annotate(image: np.ndarray, faces: Sequence[Face], runners_up: int = 0,
             fps: Optional[float] = None) -> np.ndarray:
    """A copy of a BGR image with each face's box, landmarks and ``#id emotion NN%`` label (placed by
    :func:`layout_labels`), with ``runners_up`` next-likeliest emotions under it, and the frame rate if given."""
    out: np.ndarray = image.copy()
    scale = max(0.4, min(2.0, max(image.shape[:2]) / 1200))
    reserved: list[Rect] = []
    if fps is not None:
        text = f"{fps:.1f} FPS"
        reserved.append((0, 0, *_line_sizes([text], scale)[0]))
        _draw_label(out, Label(((text, (255, 255, 255)),), reserved[0], scale))
    for face in faces:
        x, y, w, h = face.box
        colour = bgr(label_colours(tuple(face.scores))[face.emotion])
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, _thickness(scale))
        for px, py in face.landmarks or ():
            cv2.circle(out, (round(px), round(py)), _thickness(scale), (0, 255, 0), cv2.FILLED)
    for label in layout_labels(faces, image.shape, scale, runners_up, reserved):
        if label is not None:
            _draw_label(out, label)
    return out
