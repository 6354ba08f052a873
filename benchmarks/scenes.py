"""Synthetic 640x480 scenes with known face boxes, composed from the single-face photos of face_photos: faces of
every size, tilted, cut by the frame edge, overlapping, dim and over-exposed. Deterministic for a given seed.

The faces' boxes in the photos are the hand-checked ones of ``data/face_boxes.json`` ("roll" is the angle of the
eye line there); a scene face's box is the photo box scaled and moved, kept upright (a square of the face's side
centred on the face), and may reach past the frame edge.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from common import PHOTOS

WIDTH, HEIGHT = 640, 480
BOXES = Path(__file__).resolve().parent / "data" / "face_boxes.json"
CONDITIONS = ("size", "rotation", "edge", "overlap", "dim", "bright", "turned", "pitch")
TURNED_JITTER = 15.0
"""In a "turned" scene (a photo whose orientation was lost), every face lies at the scene's angle (spread evenly
over 0-360 degrees across the scenes) give or take this many degrees."""
MAX_PITCH = 45.0
"""Faces of "pitch" scenes look down by 0 to this many degrees."""
DIM_STOPS, BRIGHT_STOPS = -3.0, 1.5
"""Exposure of the dim and over-exposed scenes, in stops: +1.5 clips everything brighter than 161 of 255 (bright
skin); at +2 (136) every detector's recall falls sharply."""


def face_boxes() -> dict[Path, list[dict]]:
    """Hand-checked faces of every photo: ``{path: [{"box": [x, y, w, h], "roll": degrees (one-face photos)}]}``."""
    return {PHOTOS / name: faces for name, faces in json.loads(BOXES.read_text()).items()}


@dataclass
class SceneFace:
    """One face put into a scene: its upright box, side in pixels, eye-line angle, the share of its box side
    outside the frame, and how far it looks down (degrees)."""

    box: tuple[float, float, float, float]
    side: float
    angle: float = 0.0
    cut: float = 0.0
    pitch: float = 0.0


@dataclass
class Scene:
    """A 640x480 BGR frame and the faces in it."""

    condition: str
    image: np.ndarray
    faces: list[SceneFace] = field(default_factory=list)
    angle: float = 0.0
    """The angle the whole scene is turned by ("turned" scenes)."""


@dataclass(frozen=True)
class _Source:
    """A face photo cut to the face's surroundings (reflected where the photo ends), shrunk so that the face is at
    most as large as in a scene."""

    region: np.ndarray
    side: float
    roll: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.region.shape[1] / 2, self.region.shape[0] / 2


def load_sources(limit: int | None = None) -> list[_Source]:
    """The faces of the one-face photos (the first ``limit`` of them), cut out with their surroundings."""
    sources = []
    for path, faces in sorted(face_boxes().items()):
        if limit is not None and len(sources) >= limit:
            break
        if len(faces) == 1 and "roll" in faces[0]:
            x, y, w, h = faces[0]["box"]
            side = (w + h) / 2
            scale = min(1.0, HEIGHT / side)
            image = cv2.imread(str(path))
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cx, cy, side = int((x + w / 2) * scale), int((y + h / 2) * scale), side * scale
            half = int(side * 1.1) + 2
            region = cv2.copyMakeBorder(image, half, half, half, half, cv2.BORDER_REFLECT)
            sources.append(_Source(region[cy:cy + 2 * half, cx:cx + 2 * half].copy(), side, faces[0]["roll"]))
    return sources


def _background(rng: np.random.Generator) -> np.ndarray:
    """Smooth colour noise with random shapes: clutter without faces."""
    image = cv2.resize(rng.integers(40, 220, (3, 4, 3), dtype=np.uint8), (WIDTH, HEIGHT),
                       interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(10, 30))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(image, (x, y), (x + int(rng.integers(10, 200)), y + int(rng.integers(10, 200))), colour, -1)
        elif kind == 1:
            cv2.ellipse(image, (x, y), (int(rng.integers(5, 80)), int(rng.integers(5, 80))), float(rng.uniform(0, 180)),
                        0, 360, colour, -1)
        else:
            cv2.line(image, (x, y), (int(rng.integers(0, WIDTH)), int(rng.integers(0, HEIGHT))), colour,
                     int(rng.integers(1, 8)))
    return cv2.GaussianBlur(image, (3, 3), 0)


def looking_down(region: np.ndarray, face_side: float, pitch: float) -> np.ndarray:
    """``region`` (a square around a face, centred on it) as if the face were a plane turned ``pitch`` degrees
    about its horizontal axis, forehead towards the camera, seen from three face widths: the face shortens by
    cos(pitch) and its top grows while its chin shrinks. A stand-in for a head looking down (no nose or brow
    hides the eyes here)."""
    half = region.shape[0] / 2
    distance, sin, cos = 3.0 * face_side, math.sin(math.radians(pitch)), math.cos(math.radians(pitch))
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], np.float32)
    depth = distance + corners[:, 1:] * sin
    seen = np.concatenate([corners[:, :1], corners[:, 1:] * cos], axis=1) * distance / depth + half
    matrix = cv2.getPerspectiveTransform(corners + half, seen.astype(np.float32))
    return cv2.warpPerspective(region, matrix, region.shape[1::-1], flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)


def paste_face(scene: np.ndarray, source: _Source, centre: tuple[float, float], side: float,
               angle: float, pitch: float = 0.0) -> SceneFace:
    """Draw the source's head (an ellipse around the face, feathered) into ``scene`` with its face box centred at
    ``centre``, ``side`` pixels wide, its eye line at ``angle`` degrees and looking down by ``pitch`` degrees
    (:func:`looking_down`); return the face's upright box."""
    scale = side / source.side
    region = source.region
    half = region.shape[0] / 2
    mask = np.zeros(region.shape[:2], np.float32)
    axes = (int(source.side * 0.68), int(source.side * 0.9))
    cv2.ellipse(mask, (int(half), int(half - source.side * 0.08)), axes, source.roll, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), source.side * 0.04)
    if pitch:
        region, mask = looking_down(region, source.side, pitch), looking_down(mask, source.side, pitch)
    centre_in_region = source.centre
    if scale < 0.5:  # shrink with area averaging first, as a camera would record a small face
        region = cv2.resize(region, None, fx=scale * 2, fy=scale * 2, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_AREA)
        centre_in_region = (centre_in_region[0] * scale * 2, centre_in_region[1] * scale * 2)
        scale = 0.5
    # OpenCV turns counter-clockwise for positive angles, which lowers the eye-line angle by as much
    matrix = cv2.getRotationMatrix2D(centre_in_region, source.roll - angle, scale)
    matrix[:, 2] += np.array(centre) - np.array(centre_in_region)
    face = cv2.warpAffine(region, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)[:, :, None]
    scene[:] = (face * alpha + scene * (1 - alpha)).astype(np.uint8)
    box = (centre[0] - side / 2, centre[1] - side / 2, side, side)
    outside = [max(0.0, -box[0]), max(0.0, box[0] + side - WIDTH), max(0.0, -box[1]), max(0.0, box[1] + side - HEIGHT)]
    return SceneFace(box, side, angle, max(outside) / side, pitch)


def _free(centre: tuple[float, float], side: float, faces: list[SceneFace]) -> bool:
    """No overlap, with a margin for hair, between a face box and those already placed."""
    return all(abs(centre[0] - (f.box[0] + f.side / 2)) > 0.65 * (side + f.side)
               or abs(centre[1] - (f.box[1] + f.side / 2)) > 0.75 * (side + f.side) for f in faces)


def _place(rng: np.random.Generator, side: float, faces: list[SceneFace]) -> tuple[float, float] | None:
    """A centre that keeps the face box inside the frame and clear of the others (None after 50 tries)."""
    for _ in range(50):
        centre = (rng.uniform(side / 2, max(side / 2 + 1, WIDTH - side / 2)),
                  rng.uniform(side / 2, max(side / 2 + 1, HEIGHT - side / 2)))
        if _free(centre, side, faces):
            return centre
    return None


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def make_scene(condition: str, rng: np.random.Generator, sources: list[_Source], angle: float = 0.0) -> Scene:
    """One scene of ``condition`` (see :data:`CONDITIONS`); a "turned" one has its faces at ``angle`` degrees."""
    scene = Scene(condition, _background(rng), angle=angle if condition == "turned" else 0.0)
    pick = lambda: sources[int(rng.integers(len(sources)))]  # noqa: E731
    if condition == "overlap":  # a row of 2-4 faces, each partly hidden by the next
        side = _log_uniform(rng, 50, 150)
        count = int(rng.integers(2, 5))
        x = rng.uniform(side / 2, max(side / 2 + 1, WIDTH - side / 2 - (count - 1) * side * 0.9))
        y = rng.uniform(side, HEIGHT - side)
        for _ in range(count):
            own = side * rng.uniform(0.85, 1.15)
            if x + own / 2 > WIDTH:
                break
            scene.faces.append(paste_face(scene.image, pick(), (x, y + rng.uniform(-0.3, 0.3) * own), own, 0.0))
            x += own * rng.uniform(0.7, 0.9)
    elif condition == "edge":  # one face, its box cut by up to 40% by one edge of the frame
        side, cut = _log_uniform(rng, 40, 300), rng.uniform(0, 0.4)
        edge = int(rng.integers(4))
        along = rng.uniform(side / 2, (WIDTH if edge >= 2 else HEIGHT) - side / 2)
        across = side / 2 - cut * side
        centre = {0: (across, along), 1: (WIDTH - across, along), 2: (along, across), 3: (along, HEIGHT - across)}[edge]
        scene.faces.append(paste_face(scene.image, pick(), centre, side, 0.0))
    else:
        count = 1 if condition == "size" and rng.uniform() < 0.3 else int(rng.integers(1, 4))
        for _ in range(count):
            if condition == "size":
                side = _log_uniform(rng, 20, 0.9 * HEIGHT)
            else:
                side = _log_uniform(rng, 40, 240)
            angle = rng.uniform(-60, 60) if condition == "rotation" else 0.0
            if condition == "turned":
                angle = scene.angle + rng.uniform(-TURNED_JITTER, TURNED_JITTER)
            pitch = rng.uniform(0, MAX_PITCH) if condition == "pitch" else 0.0
            centre = _place(rng, side, scene.faces)
            if centre is not None:
                scene.faces.append(paste_face(scene.image, pick(), centre, side, angle, pitch))
        if condition in ("dim", "bright"):
            scene.image = exposed(scene.image, DIM_STOPS if condition == "dim" else BRIGHT_STOPS, rng)
    return scene


def exposed(image: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """``image`` as if exposed ``stops`` more (or less) light: scaled in linear light (sRGB taken as gamma 2.2),
    clipped, with a little sensor noise."""
    linear = (image / 255.0) ** 2.2 * 2.0 ** stops
    out = 255 * np.clip(linear, 0, 1) ** (1 / 2.2) + rng.normal(0, 2.0, image.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def make_scenes(per_condition: int = 40, seed: int = 13,
                conditions: tuple[str, ...] = CONDITIONS) -> list[Scene]:
    """``per_condition`` scenes of each condition, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    sources = load_sources()
    return [make_scene(c, rng, sources, 360.0 * i / per_condition) for c in conditions for i in range(per_condition)]
