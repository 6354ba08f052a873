"""Faces at any in-plane angle: a detector run on turned copies of the image, its faces mapped back and merged.

BlazeFace finds faces tilted by up to about 45 degrees; a photo whose orientation was lost, or taken with the phone
sideways, holds faces at 90, 180 or 270 degrees, which it misses. :class:`RotatedPasses` runs the detector it wraps
on the image turned by each of its angles (quarter turns are exact pixel copies; other angles are warped on a canvas
large enough to hold the whole image), maps every face's centre, box and landmarks back into the image's own frame,
and keeps one face per cluster of overlapping faces there: the best pass's.

A face's box in the image's frame is the box the detector gave it in the turned copy, turned back about its centre
and kept upright: the same square around the face, the way a face upright in the image is boxed. Its landmarks are
mapped point by point, so the eye line (and :func:`~emolens.faces.align.crop_face`'s crop) follows the face however
it lies, upside down included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from emolens.faces.align import eye_angle
from emolens.faces.base import Detection, FaceDetector
from emolens.faces.blazeface import Candidates, clusters
from emolens.faces.multiscale import without_groups

QUARTERS = (0.0, 90.0, 180.0, 270.0)
"""The passes always run: the image as it is and its quarter turns (exact pixel copies, no warp)."""


def turned(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned counter-clockwise by ``angle`` degrees on a canvas that holds all of it, and the 2x3 matrix
    from the turned copy's pixels back to ``image``'s."""
    height, width = image.shape[:2]
    if angle % 90:
        forward = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
        cos, sin = abs(forward[0, 0]), abs(forward[0, 1])
        size = (int(math.ceil(height * sin + width * cos)), int(math.ceil(height * cos + width * sin)))
        forward[:, 2] += np.array(size) / 2.0 - [width / 2.0, height / 2.0]
        out = cv2.warpAffine(image, forward, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(114, 114, 114))
        return out, cv2.invertAffineTransform(forward)
    quarter = int(angle // 90) % 4
    # np.rot90 turns counter-clockwise: a pixel (x, y) of the copy comes from these coordinates of the image
    back = {0: [[1, 0, 0], [0, 1, 0]], 1: [[0, -1, width], [1, 0, 0]],
            2: [[-1, 0, width], [0, -1, height]], 3: [[0, 1, 0], [-1, 0, height]]}[quarter]
    return np.ascontiguousarray(np.rot90(image, quarter)), np.array(back, np.float64)


def mapped_back(faces: Sequence[Detection], back: np.ndarray) -> Candidates:
    """Candidates in the image's frame from faces found in a turned copy (``back``: the copy's pixels to the
    image's): centres and landmarks mapped, box sides kept (turned by a quarter turn's multiple where the turn is
    nearer a quarter than the box's sides)."""
    boxes, scores, points = [], [], []
    swap = abs(back[0, 1]) > abs(back[0, 0])
    for face in faces:
        x, y, w, h = face.box
        cx, cy = back @ [x + w / 2.0, y + h / 2.0, 1.0]
        w, h = (h, w) if swap else (w, h)
        boxes.append([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0])
        scores.append(face.score)
        pts = np.zeros((0, 2)) if face.landmarks is None else np.asarray(face.landmarks, np.float64)
        points.append(pts @ back[:, :2].T + back[:, 2])
    return np.array(boxes), np.array(scores), np.stack(points)


def best_of_passes(found: list[tuple[float, Candidates]], width: int, height: int, iou_threshold: float,
                   min_score: float) -> list[Detection]:
    """One face per cluster of overlapping candidates from several passes (``(angle, candidates)``), best first:
    the best-scored one as it is. Not averaged, unlike the faces of one pass: a pass that sees a face lying
    sideways may still box it, with a low score and its eyes and mouth misplaced. A face whose best view is a
    turned pass's and scores under ``min_score`` must be seen by a second pass: a real face usually is, a pattern
    rarely. Faces centred outside the image (in a turned copy's filled corners) are dropped."""
    if not found:
        return []
    angles = np.concatenate([np.full(len(candidates[1]), angle) for angle, candidates in found])
    parts = zip(*(candidates for _, candidates in found), strict=True)
    boxes, scores, points = (np.concatenate(part) for part in parts)
    order = np.argsort(-scores)
    angles, boxes, scores, points = angles[order], boxes[order], scores[order], points[order]
    faces: list[Detection] = []
    for cluster in clusters(boxes, iou_threshold):
        best = int(np.argmax(cluster))  # the cluster's first box: its best
        if angles[best] != 0 and scores[best] < min_score and len(set(angles[cluster])) < 2:
            continue
        x0, y0, x1, y1 = boxes[best]
        cx, cy, slack = (x0 + x1) / 2, (y0 + y1) / 2, 0.1 * (x1 - x0)
        inside = -slack <= cx <= width + slack and -slack <= cy <= height + slack
        face = Detection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(scores[best]),
                         points[best] if points.shape[1] else None)
        # a pass seeing a face turned may box it off-centre: a second box whose centre lies in a better one's
        if inside and not any(_holds(kept, face) for kept in faces):
            faces.append(face)
    return faces


def _holds(face: Detection, other: Detection) -> bool:
    """Whether ``other``'s centre lies in ``face``'s box."""
    x, y, w, h = face.box
    cx, cy = other.box[0] + other.box[2] / 2, other.box[1] + other.box[3] / 2
    return x < cx < x + w and y < cy < y + h


def _tilt(face: Detection) -> float:
    """The eye line's angle of a face in the pass that found it (0 without landmarks)."""
    return eye_angle(face.landmarks)


class RotatedPasses(FaceDetector):
    """``detector`` run on the image and its quarter turns, and on an eighth turn between two of them where faces
    lie near it (see the module docs); faces are merged in the image's frame.

    A face found tilted by more than ``tilt`` degrees in a pass asks for the pass turned 45 degrees towards it
    (run once); a face tilted by more than ``max_tilt`` is left to that pass, which sees it nearly upright (at the
    edge of their range, BlazeFace's boxes drift off the face and groups of faces get one box), unless that pass
    found nothing there.

    Args:
        detector: any face detector (its passes on each turned copy are its own: tiles, borders, thresholds).
        tilt: eye-line angle in degrees past which the eighth-turn pass beside a quarter turn runs.
        max_tilt: faces tilted more than this in their pass give way to a pass nearer their angle.
        min_score: the confidence needed from a turned pass that alone sees a face: like tiles, turned passes add
            chances of a false face.
        iou_threshold: faces of different passes overlapping more than this are one face.
    """

    def __init__(self, detector: FaceDetector, tilt: float = 20.0, max_tilt: float = 35.0, min_score: float = 0.7,
                 iou_threshold: float = 0.3) -> None:
        self.detector, self.tilt, self.max_tilt, self.iou_threshold = detector, tilt, max_tilt, iou_threshold
        self.min_score = min_score
        self.name, self.box_scale = f"{detector.name}+rotated", detector.box_scale

    def _passes(self, image: np.ndarray, angles: Sequence[float]) -> dict[float, tuple[list[Detection], np.ndarray]]:
        found = {}
        for angle in angles:
            copy, back = turned(image, angle)
            found[angle] = (self.detector.detect(copy), back)
        return found

    def detect(self, image: np.ndarray) -> list[Detection]:
        found = self._passes(image, QUARTERS)
        eighths = {(angle + math.copysign(45.0, _tilt(face))) % 360.0 for angle, (faces, _) in found.items()
                   for face in faces if abs(_tilt(face)) > self.tilt}
        found.update(self._passes(image, sorted(eighths)))
        near: list[tuple[float, Candidates]] = []
        tilted: list[tuple[float, Candidates]] = []
        for angle, (faces, back) in found.items():
            beside = [abs(_tilt(f)) > self.max_tilt and (angle + math.copysign(45.0, _tilt(f))) % 360.0 in found
                      for f in faces]
            for group, side in ((near, False), (tilted, True)):
                chosen = [f for f, b in zip(faces, beside, strict=True) if b == side]
                if chosen:
                    group.append((angle, mapped_back(chosen, back)))
        width, height = image.shape[1], image.shape[0]
        faces = best_of_passes(near, width, height, self.iou_threshold, self.min_score)
        # a face seen only tilted (the pass nearer its angle missed it) is kept where no nearer view found one
        faces += [f for f in best_of_passes(tilted, width, height, self.iou_threshold, self.min_score)
                  if not any(_holds(kept, f) for kept in faces)]
        return without_groups(sorted(faces, key=lambda f: -f.score))

    def close(self) -> None:
        self.detector.close()
