"""Label placement on annotated images: on the real group photos, no label covers another or leaves the image."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
import pytest

from emolens.pipeline.draw import annotate, layout_labels

GROUP_PHOTOS = ("facenet_multiface.jpg", "deepface_selfie-many-people.jpg", "deepface_couple.jpg")
"""The multi-face photos of the real data (6, 7 and 2 faces; two of the seven cut by the edge)."""


@pytest.fixture(scope="module")
def analyzer():
    from emolens import Analyzer

    with Analyzer() as analyzer:
        yield analyzer


def _disjoint(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]


@pytest.mark.parametrize("runners_up", [0, 2])
@pytest.mark.parametrize("width", [None, 480])  # as taken, and shrunk so that labels crowd the faces
@pytest.mark.parametrize("name", GROUP_PHOTOS)
def test_labels_on_group_photos_stay_apart_and_inside(analyzer, photos_dir: Path, name: str,
                                                      width: int | None, runners_up: int) -> None:
    image = cv2.imread(str(photos_dir / name))
    if width is not None:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])),
                           interpolation=cv2.INTER_AREA)
    faces = analyzer.analyze(image)
    assert len(faces) >= 2
    labels = layout_labels(faces, image.shape, scale=max(0.4, max(image.shape[:2]) / 1200), runners_up=runners_up)
    assert all(label is not None for label in labels)
    rects = [label.rect for label in labels]
    for x, y, w, h in rects:
        assert 0 <= x and x + w <= image.shape[1] and 0 <= y and y + h <= image.shape[0]
    for a, b in combinations(rects, 2):
        assert _disjoint(a, b), (a, b)
    for face, label in zip(faces, labels, strict=True):
        assert label.lines[0][0] == f"{face.emotion} {face.confidence:.0%}"  # each face keeps its main label
        assert len(label.lines) in (1, 1 + runners_up)  # runners-up are dropped only when there is no room


def test_runner_up_lines_are_drawn_only_when_asked(analyzer, photos_dir: Path) -> None:
    image = cv2.imread(str(photos_dir / "deepface_couple.jpg"))
    faces = analyzer.analyze(image)
    assert [len(label.lines) for label in layout_labels(faces, image.shape, 1.0)] == [1, 1]
    assert [len(label.lines) for label in layout_labels(faces, image.shape, 1.0, runners_up=2)] == [3, 3]
    assert np.array_equal(annotate(image, faces), annotate(image, faces, runners_up=0))
    assert not np.array_equal(annotate(image, faces), annotate(image, faces, runners_up=2))


def test_a_label_bigger_than_a_tiny_image_is_shrunk_to_fit(analyzer, photos_dir: Path) -> None:
    image = cv2.imread(str(photos_dir / "deepface_couple.jpg"))
    small = (120, 84)  # "neutral 96%" at the smallest scale (0.4) is wider than half of it
    faces = [replace(face, box=tuple(round(v * small[0] / image.shape[1]) for v in face.box), landmarks=None)
             for face in analyzer.analyze(image)]  # found on the photo, drawn on a thumbnail of it
    labels = layout_labels(faces, (small[1], small[0], 3), scale=0.4, runners_up=2)
    assert all(label is not None for label in labels)
    for x, y, w, h in (label.rect for label in labels):
        assert 0 <= x and x + w <= small[0] and 0 <= y and y + h <= small[1]
    assert _disjoint(*(label.rect for label in labels))
