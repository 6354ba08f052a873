"""Face detectors and alignment, on the multi-face photos and the bundled astronaut fixture."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES
from emolens.faces import Detection, create_detector
from emolens.faces.align import crop_face, eye_angle
from emolens.faces.blazeface import VARIANTS, ssd_anchors
from emolens.pipeline.images import load_image

ASTRONAUT = FIXTURES / "astronaut.png"


@pytest.fixture(scope="module")
def blazeface():
    return create_detector("blazeface")


@pytest.fixture(scope="module")
def haar():
    return create_detector("haar")


@pytest.mark.parametrize("variant, anchors", [("full", 2304), ("short", 896)])
def test_anchor_grids_match_the_model_outputs(variant: str, anchors: int) -> None:
    v = VARIANTS[variant]
    centres = ssd_anchors(v.size, v.size, v.strides, v.anchors_per_layer)
    assert centres.shape == (anchors, 2)
    assert centres.min() > 0 and centres.max() < v.size


def test_unknown_detector_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown face detector 'nope'"):
        create_detector("nope")


@pytest.mark.parametrize("name", ["blazeface", "haar"])
def test_astronaut_has_one_face_with_eyes_in_the_upper_half(name: str, request: pytest.FixtureRequest) -> None:
    detector = request.getfixturevalue(name)
    image = load_image(ASTRONAUT)
    faces = detector.detect(image)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 260 and 60 < y + h / 2 < 160  # the face sits there in the 512x512 picture
    if name == "blazeface":
        eyes = faces[0].landmarks[:2]
        assert eyes[0][0] < eyes[1][0]  # image-left eye first
        assert np.all(eyes[:, 1] < y + h / 2)


@pytest.mark.parametrize("photo, expected", [("deepface_couple.jpg", 2), ("facenet_multiface.jpg", 6)])
def test_blazeface_finds_exactly_the_faces_of_multi_face_photos(blazeface, photos_dir: Path, photo: str,
                                                                 expected: int) -> None:
    assert len(blazeface.detect(load_image(photos_dir / photo))) == expected


def test_blazeface_finds_the_uncut_faces_of_the_crowded_selfie(blazeface, photos_dir: Path) -> None:
    # 7 faces, of which 2 are cut off by the frame edge and 1 is a blurred close-up
    found = blazeface.detect(load_image(photos_dir / "deepface_selfie-many-people.jpg"))
    assert 4 <= len(found) <= 7


def test_tiles_find_small_faces_in_a_large_photo(blazeface, photos_dir: Path) -> None:
    canvas = np.full((2520, 4800, 3), 120, np.uint8)  # the six faces, ~90 px each, in a 4800-pixel-wide photo
    canvas[1000:1630, 1800:3000] = load_image(photos_dir / "facenet_multiface.jpg")
    found = blazeface.detect(canvas)
    assert len(found) == 6
    assert all(1800 <= d.box[0] and d.box[0] + d.box[2] <= 3000 and 1000 <= d.box[1] for d in found)
    assert len(create_detector("blazeface", tile=0).detect(canvas)) < 6  # the whole image alone is not enough


@pytest.mark.parametrize("photo, low, high", [("deepface_couple.jpg", 2, 2), ("facenet_multiface.jpg", 6, 8)])
def test_haar_finds_the_faces_of_multi_face_photos(haar, photos_dir: Path, photo: str, low: int, high: int) -> None:
    assert low <= len(haar.detect(load_image(photos_dir / photo))) <= high


def test_no_face_in_a_blank_image(blazeface, haar) -> None:
    blank = np.full((480, 640, 3), 127, np.uint8)
    assert blazeface.detect(blank) == [] and haar.detect(blank) == []


def test_crop_turns_the_eye_line_horizontal(blazeface) -> None:
    image = load_image(ASTRONAUT)
    tilt = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 25, 1.0), (512, 512),
                          borderMode=cv2.BORDER_REPLICATE)
    (face,) = blazeface.detect(tilt)
    assert abs(eye_angle(face.landmarks) + 25) < 6  # OpenCV turns counter-clockwise: the eyes now slope up
    crop = crop_face(tilt, face, margin=0.5)
    (again,) = blazeface.detect(crop)
    assert abs(eye_angle(again.landmarks)) < 6


def test_crop_side_follows_the_margin_and_is_capped() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    detection = Detection((100, 100, 80, 60), 1.0)
    assert crop_face(image, detection, margin=0.25).shape == (120, 120, 3)
    assert crop_face(image, detection, margin=0.25, max_side=64).shape == (64, 64, 3)
