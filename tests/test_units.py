"""Unit tests of small numeric pieces: test-time augmentation shifts, crop resizing per colour layout, and the
score-weighted merging of overlapping face boxes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from support.helpers import FIXTURES

from emolens.emotion.preprocessing import Preprocessing, resize_face
from emolens.emotion.tta import shift, tta_views
from emolens.errors import ConfigError
from emolens.faces.blazeface import weighted_nms

FACE = cv2.imread(str(FIXTURES / "astronaut.png"))[20:220, 160:360]  # a 200x200 BGR crop around her face


# --- emotion/tta.py ---------------------------------------------------------------------------------------------

def _shifted_by_indexing(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """What shift() must give: pixel (i, j) comes from (i - dy, j - dx), clamped to the image (edge repeated)."""
    h, w = x.shape[2:]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return x[:, :, rows][:, :, :, cols]


@pytest.mark.parametrize("dy, dx", [(0, 0), (2, 2), (-2, -2), (1, -3), (0, 5), (-4, 0)])
def test_shift_moves_content_and_repeats_the_edge(dy: int, dx: int) -> None:
    x = np.random.default_rng(0).random((2, 3, 12, 10)).astype(np.float32)
    shifted = shift(x, dy, dx)
    assert shifted.shape == x.shape
    np.testing.assert_array_equal(shifted, _shifted_by_indexing(x, dy, dx))


def test_shift_down_right_by_one() -> None:
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(shift(x, 1, 1)[0, 0], [[0, 0, 1], [0, 0, 1], [3, 3, 4]])


@pytest.mark.parametrize("size, step", [(96, 3), (64, 2), (48, 1), (16, 1)])
def test_tta_views_are_the_input_its_mirror_and_two_diagonal_shifts(size: int, step: int) -> None:
    x = np.random.default_rng(1).random((4, 3, size, size)).astype(np.float32)
    views = tta_views(x)
    assert len(views) == 4 and all(v.shape == x.shape for v in views)
    np.testing.assert_array_equal(views[0], x)
    np.testing.assert_array_equal(views[1], x[:, :, :, ::-1])
    np.testing.assert_array_equal(views[2], _shifted_by_indexing(x, step, step))
    np.testing.assert_array_equal(views[3], _shifted_by_indexing(x, -step, -step))


# --- emotion/preprocessing.py -----------------------------------------------------------------------------------

def test_resize_face_bgra_drops_alpha() -> None:
    bgra = cv2.cvtColor(FACE, cv2.COLOR_BGR2BGRA)
    bgra[..., 3] = 0  # fully transparent: the colours still count, the alpha does not
    for color in ("gray", "rgb"):
        # dropping alpha is exact, so both resize the same bytes the same way
        np.testing.assert_array_equal(resize_face(bgra, 64, color), resize_face(FACE, 64, color))


def test_resize_face_bgr_to_rgb_swaps_channels() -> None:
    out = resize_face(FACE, 64, "rgb")
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    bgr = cv2.resize(FACE, (64, 64), interpolation=cv2.INTER_AREA)  # OpenCV resizes each channel alike: order-free
    np.testing.assert_array_equal(out, bgr[..., ::-1])
    blue = np.zeros((8, 8, 3), np.uint8)
    blue[..., 0] = 255
    assert resize_face(blue, 8, "rgb")[0, 0].tolist() == [0, 0, 255]


def test_resize_face_grey_input_and_grey_output() -> None:
    grey = cv2.cvtColor(FACE, cv2.COLOR_BGR2GRAY)
    as_rgb = resize_face(grey, 64, "rgb")
    assert as_rgb.shape == (64, 64, 3)
    assert (as_rgb[..., 0] == as_rgb[..., 1]).all() and (as_rgb[..., 1] == as_rgb[..., 2]).all()
    as_grey = resize_face(FACE, 64, "gray")
    assert as_grey.shape == (64, 64)
    np.testing.assert_array_equal(as_grey, resize_face(grey, 64, "gray"))
    # 200 -> 64 px is not a whole factor: OpenCV's area resize sums each channel with the same weights in the same
    # order whatever the channel count, so a grey channel of three is the single grey channel
    np.testing.assert_array_equal(as_rgb[..., 0], as_grey)


def test_resize_face_shrinks_to_the_source_size_first() -> None:
    """A sharp 200 px crop is brought down to the 48 px detail of the training faces, then up to the input."""
    detail = cv2.resize(cv2.cvtColor(FACE, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    expected = cv2.resize(detail, (96, 96), interpolation=cv2.INTER_LINEAR)  # the same calls: the same bytes
    np.testing.assert_array_equal(resize_face(FACE, 96, "gray", source_size=48), expected)
    assert not np.array_equal(resize_face(FACE, 96, "gray"), expected)
    small = FACE[:40, :40]  # smaller than the source size: not shrunk first
    np.testing.assert_array_equal(resize_face(small, 96, "gray", source_size=48), resize_face(small, 96, "gray"))


@pytest.mark.parametrize("fields, message", [({"color": "grey"}, "color must be one of gray, rgb"),
                                             ({"input_size": 0}, "positive input_size")])
def test_preprocessing_refuses_values_it_cannot_apply(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Preprocessing(**fields)


# --- faces/blazeface.py -----------------------------------------------------------------------------------------

def _points(*xs: float) -> np.ndarray:
    return np.array([[[x, x]] * 6 for x in xs], np.float32)


def test_weighted_nms_averages_a_cluster_by_score() -> None:
    boxes = np.array([[10, 10, 50, 50], [100, 100, 140, 140], [12, 12, 52, 52]], np.float32)
    scores = np.array([0.6, 0.8, 0.9], np.float32)
    merged = weighted_nms(boxes, scores, _points(20, 110, 30), iou_threshold=0.3)
    assert len(merged) == 2
    (box, score, points), (far_box, far_score, far_points) = merged  # best cluster first
    assert score == pytest.approx(0.9) and far_score == pytest.approx(0.8)
    # float32 sums of positive terms (no cancellation): a handful of roundings of 2**-24 each, under 1e-6 relative
    np.testing.assert_allclose(box, (0.9 * boxes[2] + 0.6 * boxes[0]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(points, np.full((6, 2), (0.9 * 30 + 0.6 * 20) / 1.5), rtol=1e-6)
    np.testing.assert_array_equal(far_box, boxes[1])
    np.testing.assert_array_equal(far_points, _points(110)[0])


def test_weighted_nms_merges_only_above_the_iou_threshold() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU 50 / 150 = 1/3
    scores = np.array([0.9, 0.7], np.float32)
    assert len(weighted_nms(boxes, scores, _points(0, 5), iou_threshold=0.3)) == 1
    assert len(weighted_nms(boxes, scores, _points(0, 5), iou_threshold=0.34)) == 2


def test_weighted_nms_of_nothing_is_nothing() -> None:
    assert weighted_nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 6, 2), np.float32),
                        0.3) == []
