"""Face tracking and emotion smoothing across frames (unit level; the CLI test runs them on a real video)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emolens.faces import Detection
from emolens.pipeline.video import FaceTracker, iou_matrix


def det(x: float, y: float, side: float = 100) -> Detection:
    return Detection((x, y, side, side), 0.9)


def test_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], np.float32)
    assert iou_matrix(a, b) == pytest.approx(np.array([[1.0, 50 / 150, 0.0]]))


def test_ids_follow_moving_faces_whatever_the_detection_order() -> None:
    tracker = FaceTracker()
    probs = np.eye(2)
    first = tracker.update([det(0, 0), det(300, 0)], probs, 0.0)
    second = tracker.update([det(310, 5), det(8, 4)], probs, 0.1)
    assert [tid for tid, _ in first] == [1, 2]
    assert [tid for tid, _ in second] == [2, 1]


def test_scores_are_smoothed_with_the_time_constant() -> None:
    tracker = FaceTracker(smoothing_s=0.3)
    tracker.update([det(0, 0)], np.array([[1.0, 0.0]]), 0.0)
    ((_, smoothed),) = tracker.update([det(0, 0)], np.array([[0.0, 1.0]]), 0.3)
    alpha = 1 - math.exp(-1)
    assert smoothed == pytest.approx([1 - alpha, alpha])
    assert FaceTracker(smoothing_s=0).update([det(0, 0)], np.array([[0.2, 0.8]]), 0.0)[0][1] == pytest.approx([0.2, 0.8])


def test_a_face_gone_longer_than_forget_s_gets_a_new_id() -> None:
    tracker = FaceTracker(forget_s=1.0)
    p = np.array([[0.5, 0.5]])
    assert tracker.update([det(0, 0)], p, 0.0)[0][0] == 1
    assert tracker.update([], np.zeros((0, 2)), 0.5) == []
    assert tracker.update([det(0, 0)], p, 0.9)[0][0] == 1
    assert tracker.update([det(0, 0)], p, 2.5)[0][0] == 2
