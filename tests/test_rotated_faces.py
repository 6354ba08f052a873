"""Faces at any angle (emolens.faces.rotated and the photo paths that use it), on turns of the real six-face group
photo: the faces found in a turned copy, mapped back, are the faces found in the upright photo."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from emolens import Analyzer, AnalyzerOptions
from emolens.errors import ConfigError
from emolens.faces import create_detector
from emolens.faces.align import crop_face, eye_angle
from emolens.faces.rotated import RotatedPasses, turned
from emolens.pipeline.images import load_image

GROUP = "facenet_multiface.jpg"
ANGLES = [35, 90, 180, 270]


@pytest.fixture(scope="module")
def group(photos_dir: Path) -> np.ndarray:
    return load_image(photos_dir / GROUP)


@pytest.fixture(scope="module")
def detector():
    detector = RotatedPasses(create_detector())
    yield detector
    detector.close()


@pytest.fixture(scope="module")
def upright(detector, group: np.ndarray):
    faces = detector.detector.detect(group)
    assert len(faces) == 6
    return faces


def centre(box) -> np.ndarray:
    return np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])


def paired(found, upright, back: np.ndarray):
    """Each upright face with the found face whose centre, mapped back into the upright photo, is nearest."""
    mapped = [back @ [*centre(f.box), 1.0] for f in found]
    return [(u, found[int(np.argmin([np.linalg.norm(m - centre(u.box)) for m in mapped]))]) for u in upright]


@pytest.mark.parametrize("angle", ANGLES)
def test_the_six_faces_of_a_turned_group_photo_are_found_where_they_are(detector, group, upright,
                                                                        angle: float) -> None:
    image, back = turned(group, angle)
    found = detector.detect(image)
    assert len(found) == 6
    for face, twin in paired(found, upright, back):
        side = face.box[2]
        # the same face: its centre and eyes within 0.15 of the face's side of the upright ones, its box as large
        # within 20%. A quarter turn is an exact copy (the same pixels, the same result); at 35 degrees the model
        # sees the face resampled, and its boxes snap to its 4-pixel anchor grid: at 256 px for a 1200-px photo,
        # 19 px or 0.2 of these ~97-px faces
        assert np.linalg.norm(back @ [*centre(twin.box), 1.0] - centre(face.box)) < 0.15 * side
        eyes = twin.landmarks[:2] @ back[:, :2].T + back[:, 2]
        assert np.abs(eyes - face.landmarks[:2]).max() < 0.15 * side
        assert twin.box[2] == pytest.approx(side, rel=0.2)
        # the eye line turned with the photo (OpenCV's turns are counter-clockwise: the angle falls)
        turn = (eye_angle(twin.landmarks) - eye_angle(face.landmarks) + angle + 180) % 360 - 180
        assert abs(turn) < 10


@pytest.mark.parametrize("angle", [90, 180])
def test_the_upright_pass_alone_misses_them(detector, group, angle: float) -> None:
    image, _ = turned(group, angle)
    assert len(detector.detector.detect(image)) < 6


@pytest.mark.parametrize("angle", [90, 180])
def test_crops_of_turned_faces_are_upright(detector, group, upright, angle: float) -> None:
    """The crop is turned by the eye line, so an upside-down face (its eye line at 180 degrees) comes out upright:
    nearer the upright face's crop than that crop turned over."""
    image, back = turned(group, angle)
    for face, twin in paired(detector.detect(image), upright, back):
        reference = crop_face(group, face, margin=0.1).astype(float)
        crop = cv2.resize(crop_face(image, twin, margin=0.1), reference.shape[1::-1]).astype(float)
        assert np.abs(crop - reference).mean() < 0.5 * np.abs(crop - reference[::-1, ::-1]).mean()


def test_no_face_in_a_blank_image_at_any_angle(detector) -> None:
    assert detector.detect(np.full((480, 640, 3), 127, np.uint8)) == []


@pytest.mark.parametrize("angle", [0, 90, 180, 270, 45, 33])
def test_turned_maps_the_copy_back_onto_the_image(angle: float) -> None:
    image = np.zeros((30, 50, 3), np.uint8)
    image[5, 40] = 255  # one bright pixel, covering (40, 5) to (41, 6)
    copy, back = turned(image, angle)
    ys, xs = np.nonzero(copy.max(axis=2) == copy.max())
    spot = back @ [xs.mean() + 0.5, ys.mean() + 0.5, 1.0]
    assert np.abs(spot - [40.5, 5.5]).max() <= 1.0  # within the pixel and its bilinear spread


@pytest.fixture(scope="module")
def turned_photo(tmp_path_factory, group) -> Path:
    path = tmp_path_factory.mktemp("turned") / "group_180.png"
    cv2.imwrite(str(path), turned(group, 180)[0])
    return path


def test_analyzer_finds_turned_faces_when_asked(turned_photo: Path) -> None:
    with Analyzer(any_angle=True) as analyzer:
        assert analyzer.any_angle and len(analyzer.analyze(turned_photo)) == 6
        assert len(analyzer.analyze(turned_photo, any_angle=False)) < 6
        assert len(analyzer.detect(turned_photo)) == 6


@pytest.mark.parametrize("angle", ANGLES)
def test_emolens_analyze_finds_turned_faces_unless_upright(group, tmp_path: Path, angle: float) -> None:
    """Issue 21's check, as a new user would do it: the group photo turned (canvas expanded), `emolens analyze`."""
    from emolens.cli.main import cli

    photo = tmp_path / f"group_{angle}.png"
    cv2.imwrite(str(photo), turned(group, angle)[0])

    def faces(*flags: str) -> int:
        result = CliRunner().invoke(cli, ["analyze", str(photo), "--json", *flags])
        assert result.exit_code == 0, result.output
        return len(json.loads(result.stdout)[0]["faces"])

    assert faces() == 6
    assert faces("--upright") < 6


@pytest.mark.parametrize("fields, message", [
    ({"any_angle": "yes"}, "any_angle must be true or false"),
])
def test_any_angle_is_checked(fields, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AnalyzerOptions(**fields)
