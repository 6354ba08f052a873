"""Face detectors and alignment, on the multi-face photos and the bundled astronaut fixture."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.data import REPO
from support.helpers import FIXTURES, load_tool

from emolens.faces import DEFAULT_DETECTOR, Detection, create_detector
from emolens.faces.align import crop_face, eye_angle
from emolens.faces.blazeface import VARIANTS, ssd_anchors
from emolens.pipeline.images import load_image

ASTRONAUT = FIXTURES / "astronaut.png"
BOXES = json.loads((REPO / "benchmarks" / "data" / "face_boxes.json").read_text())
"""Hand-checked face boxes of face_photos (benchmarks/detection.py)."""


@pytest.fixture(scope="module")
def blazeface():
    return create_detector("blazeface")


@pytest.fixture(scope="module")
def default():
    return create_detector()


def test_default_detector_is_multiscale_blazeface(default) -> None:
    assert DEFAULT_DETECTOR == "blazeface-multi" and default.name == "blazeface-multi"


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


@pytest.mark.parametrize("shape", [(3, 4000), (4000, 3), (1, 1)])
def test_default_detector_takes_images_of_any_shape(default, shape: tuple[int, int]) -> None:
    """A 4000 x 3 image once gave the full-range model an input of height 0 (a 500 in the server, found by
    fuzzing)."""
    assert default.detect(np.full((*shape, 3), 127, np.uint8)) == []


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


def iou(a, b) -> float:
    """IoU of two ``(x, y, w, h)`` boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def framed(photos_dir: Path, photo: str, side: float, centre: tuple[float, float], angle: float = 0.0
           ) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A 640x480 frame of a real one-face photo, scaled so that its face box is ``side`` pixels, centred at
    ``centre``, turned by ``angle`` degrees (counter-clockwise); and the face's upright box in the frame."""
    image = cv2.imread(str(photos_dir / photo))
    x, y, w, h = BOXES[f"images/{photo}"][0]["box"]
    scale = side / w
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    cx, cy = (x + w / 2) * scale, (y + h / 2) * scale
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    matrix[:, 2] += np.array(centre) - [cx, cy]
    frame = cv2.warpAffine(small, matrix, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    return frame, (centre[0] - side / 2, centre[1] - side / 2, side, side)


def found_once(detector, frame: np.ndarray, box) -> Detection:
    """The one detection of ``frame``, which must overlap ``box``."""
    (face,) = detector.detect(frame)
    assert iou(face.box, box) > 0.5, (face.box, box)
    return face


def test_default_detector_finds_all_seven_faces_of_the_crowded_selfie(default, photos_dir: Path) -> None:
    # two close-ups cut by the frame edge (one laughing, half of it outside), a face at the top-right edge
    found = default.detect(load_image(photos_dir / "deepface_selfie-many-people.jpg"))
    truth = [f["box"] for f in BOXES["images/deepface_selfie-many-people.jpg"]]
    assert len(found) == 7
    assert all(any(iou(d.box, b) > 0.3 for d in found) for b in truth)


@pytest.mark.parametrize("photo", ["deepface_img1.jpg", "deepface_img22.jpg"])
def test_default_detector_finds_a_close_up(default, photos_dir: Path, photo: str) -> None:
    found_once(default, *framed(photos_dir, photo, 420, (320, 250)))  # the face box: 88% of the frame height


@pytest.mark.parametrize("photo", ["deepface_img3.jpg", "facenet_paul_rudd.jpg"])
def test_default_detector_finds_a_small_face(default, photos_dir: Path, photo: str) -> None:
    found_once(default, *framed(photos_dir, photo, 30, (400, 200)))


@pytest.mark.parametrize("angle", [-40, 40])
def test_default_detector_finds_a_tilted_face_and_its_eye_line(default, photos_dir: Path, angle: float) -> None:
    face = found_once(default, *framed(photos_dir, "deepface_img13.jpg", 150, (320, 240), angle))
    assert abs(eye_angle(face.landmarks) + angle) < 8  # OpenCV turns counter-clockwise: the eye line slopes up


@pytest.mark.parametrize("edge", ["left", "right", "top", "bottom"])
def test_edge_cut_face_is_found_and_cropped_with_its_framing(default, photos_dir: Path, edge: str) -> None:
    side, cut = 200, 0.3  # 30% of the face box is outside the frame
    across = side / 2 - cut * side
    centre = {"left": (across, 240), "right": (640 - across, 240), "top": (320, across),
              "bottom": (320, 480 - across)}[edge]
    frame, box = framed(photos_dir, "deepface_img29.jpg", side, centre)
    face = found_once(default, frame, box)
    assert min(face.box[0], face.box[1], 640 - face.box[0] - face.box[2], 480 - face.box[1] - face.box[3]) < 0
    whole = found_once(default, *framed(photos_dir, "deepface_img29.jpg", side, (320, 240)))
    # the same framing as the uncut face: the crop is not shifted into the frame nor shrunk
    assert face.box[2] == pytest.approx(whole.box[2], rel=0.15)
    crop, reference = crop_face(frame, face, margin=0.1), crop_face(*framed(photos_dir, "deepface_img29.jpg", side,
                                                                            (320, 240))[:1], whole, margin=0.1)
    assert crop.shape == pytest.approx(reference.shape, abs=0.15 * reference.shape[0])


def test_scene_generator_is_deterministic_and_its_boxes_are_where_the_faces_are(blazeface) -> None:
    from scenes import CONDITIONS, HEIGHT, WIDTH, load_sources, make_scene, paste_face

    sources = load_sources(limit=3)
    for side, angle in [(160, 0.0), (120, 30.0), (90, -45.0)]:
        scene = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
        placed = paste_face(scene, sources[2], (300, 220), side, angle)
        assert placed.box == (300 - side / 2, 220 - side / 2, side, side) and placed.cut == 0
        (face,) = blazeface.detect(scene)  # BlazeFace gave the photos' boxes and eye angles, so it sees the same
        assert iou(face.box, placed.box) > 0.5  # (its upright box of a tilted face is a little smaller)
        assert abs(eye_angle(face.landmarks) - angle) < 10
    cut = paste_face(np.zeros((HEIGHT, WIDTH, 3), np.uint8), sources[2], (-20, 220), 100, 0.0)
    assert cut.cut == pytest.approx(0.7)
    for condition in CONDITIONS:
        a, b = (make_scene(condition, np.random.default_rng(7), sources) for _ in range(2))
        assert np.array_equal(a.image, b.image) and a.faces == b.faces and a.faces


def test_room_for_a_face_looks_outside_the_found_faces() -> None:
    from emolens.faces.multiscale import room_for_a_face

    boxes = np.array([[100, 100, 200, 200], [120, 110, 210, 190], [400, 100, 500, 200], [590, 300, 700, 410]],
                     np.float32)

    def room(scores: list[float]) -> bool:
        return room_for_a_face(boxes, np.array(scores, np.float32), 640, 480, 0.5, 0.3, 0.08)

    assert not room([0.9, 0.4, 0.0, 0.0])  # a weak candidate inside the face found
    assert room([0.9, 0.0, 0.35, 0.0])  # a candidate elsewhere
    assert not room([0.9, 0.0, 0.1, 0.0])  # too weak, inside the frame
    assert room([0.9, 0.0, 0.0, 0.1])  # weak but cut by the right edge: a face the full-range model half sees


def test_short_range_pass_runs_only_where_a_face_may_be_missed(default, photos_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    candidates = default.short.candidates
    monkeypatch.setattr(default.short, "candidates", lambda *args: calls.append(1) or candidates(*args))
    assert len(default.detect(load_image(ASTRONAUT))) == 1 and calls == []
    assert len(default.detect(load_image(photos_dir / "deepface_selfie-many-people.jpg"))) == 7 and calls == [1]


@pytest.mark.parametrize("photo", ["deepface_couple.jpg", "deepface_img1.jpg"])
def test_default_detector_finds_faces_again_near_their_boxes(default, photos_dir: Path, photo: str) -> None:
    """Looking only near known boxes (a stream's last frame) finds the same faces with the whole-frame pass's
    framing (the same model: boxes overlap by 0.7 or more), from shifted boxes too; nowhere near a face, none."""
    image = load_image(photos_dir / photo)
    whole = default.detect(image)
    shifted = [(x + 0.2 * w, y - 0.1 * h, w, h) for x, y, w, h in (f.box for f in whole)]
    near = default.detect_near(image, shifted)
    assert len(near) == len(whole)
    for face in whole:
        best = max(near, key=lambda f: iou(f.box, face.box))
        assert iou(best.box, face.box) >= 0.7, (best.box, face.box)
    assert default.detect_near(image, [(0.0, image.shape[0] - 40.0, 30.0, 30.0)]) == []  # a bottom corner


def test_single_model_detectors_do_not_look_near_boxes(blazeface, haar) -> None:
    image = load_image(ASTRONAUT)
    assert blazeface.detect_near(image, [(150.0, 60.0, 100.0, 100.0)]) is None
    assert haar.detect_near(image, [(150.0, 60.0, 100.0, 100.0)]) is None



def _model_file(variant: str) -> Path:
    return REPO / "src" / "emolens" / "faces" / "models" / VARIANTS[variant].file


def test_full_range_model_is_laid_out_for_onnx_runtime_fusions() -> None:
    """ONNX Runtime fuses a residual sum into the convolution before it only when it can tell that both inputs have
    the same shape: the bundled full-range model has no channel-padding Pad and stores equal shapes for them."""
    onnx = pytest.importorskip("onnx", reason="the train extra reads ONNX graphs")
    model = onnx.load(str(_model_file("full")))
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in model.graph.value_info}
    adds = [node for node in model.graph.node if node.op_type == "Add"]
    assert len(adds) == 23 and not [node for node in model.graph.node if node.op_type == "Pad"]
    for add in adds:
        assert shapes[add.input[0]] == shapes[add.input[1]], add.name


def test_the_onnx_runtime_layout_keeps_what_the_model_computes(photos_dir: Path) -> None:
    """tools/convert_blazeface.py's layout step, tried on the short-range model (which is bundled without it, with
    its eleven channel pads): the same outputs on real frames at several input sizes. The identity convolutions
    are exact; the fused sums only change the order of float32 additions in each of the 16 blocks, a few units in
    the last place of each block's values, far below 1e-4 of the outputs' range, where a channel put in the wrong
    place would differ by the whole range."""
    onnx = pytest.importorskip("onnx", reason="the train extra runs tools/convert_blazeface.py")
    import onnxruntime

    original = onnx.load(str(_model_file("short")))
    laid_out = load_tool("convert_blazeface").for_onnx_runtime(onnx.load(str(_model_file("short"))))
    assert [n.op_type for n in original.graph.node].count("Pad") == 11
    assert "Pad" not in [n.op_type for n in laid_out.graph.node]
    sessions = [onnxruntime.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                for m in (original, laid_out)]
    for photo in ("deepface_couple.jpg", "facenet_multiface.jpg", "deepface_img1.jpg"):
        image = cv2.cvtColor(cv2.imread(str(photos_dir / photo)), cv2.COLOR_BGR2RGB)
        for height, width in ((128, 128), (160, 160), (96, 128)):
            x = cv2.resize(image, (width, height))[None].astype(np.float32) * (2 / 255) - 1
            before, after = (s.run(None, {"input": x}) for s in sessions)
            for old, new in zip(before, after, strict=True):
                np.testing.assert_allclose(new, old, rtol=0, atol=1e-4 * float(np.abs(old).max()))
