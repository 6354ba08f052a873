"""The Python API: emolens.Analyzer on the astronaut fixture and real photos."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.data import REPO
from support.helpers import FIXTURES, KERNEL_ORDER_ABS

from emolens import Analyzer
from emolens.emotion.classifier import EmotionClassifier
from emolens.errors import ConfigError, InputError

ASTRONAUT = FIXTURES / "astronaut.png"


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def test_import_is_light_and_runtime_never_imports_torch() -> None:
    code = ("import sys, emolens; assert 'onnxruntime' not in sys.modules and 'cv2' not in sys.modules; "
            f"faces = emolens.Analyzer().analyze({str(ASTRONAUT)!r}); assert len(faces) == 1; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_analyze_path_pil_and_array_agree(analyzer: Analyzer) -> None:
    from_path = analyzer.analyze(ASTRONAUT)
    pil = Image.open(ASTRONAUT)
    from_pil = analyzer.analyze(pil)
    from_array = analyzer.analyze(np.asarray(pil.convert("RGB"))[:, :, ::-1].copy())
    assert len(from_path) == 1
    assert from_path == from_pil == from_array


def test_face_result_is_typed_and_serialises(analyzer: Analyzer) -> None:
    (face,) = analyzer.analyze(ASTRONAUT)
    assert analyzer.detector_name == "blazeface-multi"
    assert list(face.scores) == list(analyzer.labels)
    assert sum(face.scores.values()) == pytest.approx(1, abs=1e-4)
    assert face.emotion == max(face.scores, key=face.scores.get)
    assert len(face.box) == 4 and all(isinstance(v, int) for v in face.box)
    assert len(face.landmarks) == 6
    data = json.loads(json.dumps(face.to_dict()))
    assert data["box"] == list(face.box) and data["emotion"] == face.emotion and data["track_id"] is None


def test_no_face_is_an_empty_list(analyzer: Analyzer) -> None:
    assert analyzer.analyze(np.full((240, 320, 3), 90, np.uint8)) == []


def test_classify_scores_a_batch_of_crops(analyzer: Analyzer, fer_dir: Path) -> None:
    crops = [np.asarray(Image.open(p)) for p in sorted((fer_dir / "privatetest" / "happy").glob("*.png"))[:5]]
    scores = analyzer.classify(crops)
    assert len(scores) == 5
    assert all(sum(s.values()) == pytest.approx(1, abs=1e-4) for s in scores)
    assert analyzer.classify([]) == []


def test_all_faces_of_a_photo_are_classified_in_one_batch(analyzer: Analyzer, photos_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    batches = []
    predict = EmotionClassifier.predict_inputs
    monkeypatch.setattr(EmotionClassifier, "predict_inputs", lambda self, x, tta=False, calibrated=True, **kw:
                        batches.append(len(x)) or predict(self, x, tta, calibrated, **kw))
    assert len(analyzer.analyze(photos_dir / "facenet_multiface.jpg")) == 6
    assert batches == [6]


def test_one_analyzer_serves_many_threads(analyzer: Analyzer, photos_dir: Path) -> None:
    paths = [photos_dir / "deepface_couple.jpg", photos_dir / "facenet_multiface.jpg", ASTRONAUT] * 4
    serial = [analyzer.analyze(p) for p in paths]
    with ThreadPoolExecutor(4) as pool:  # each call runs the same shapes on one intra-op thread: the same bits
        assert list(pool.map(analyzer.analyze, paths)) == serial


def test_tta_changes_scores_but_not_boxes(analyzer: Analyzer) -> None:
    (plain,), (tta,) = analyzer.analyze(ASTRONAUT), analyzer.analyze(ASTRONAUT, tta=True)
    assert plain.box == tta.box and plain.scores != tta.scores


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.jpg", "no such file"),
    (lambda d: (d / "cut.jpg").write_bytes(ASTRONAUT.read_bytes()[:3000]) and d / "cut.jpg", "truncated or corrupt"),
    (lambda d: (d / "text.png").write_text("hello") and d / "text.png", "not an image"),
])
def test_bad_images_raise_input_error(analyzer: Analyzer, tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputError, match=message):
        analyzer.analyze(make(tmp_path))


def test_huge_image_is_refused() -> None:
    small_limit = Analyzer(max_pixels=100_000)
    with pytest.raises(InputError, match="over the limit"):
        small_limit.analyze(ASTRONAUT)


@pytest.mark.parametrize("height, width", [(600, 33_000), (33_000, 600)])
def test_a_face_in_an_image_wider_or_taller_than_32767_pixels_is_classified(analyzer: Analyzer, height: int,
                                                                            width: int) -> None:
    # OpenCV's warpAffine refuses sources of 32,767 pixels or more: the crop must read only the face's region
    canvas = np.full((height, width, 3), 255, np.uint8)
    face = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[:, :, ::-1][:400, 80:480]
    y, x = (height - 400) // 2, (width - 400) // 2
    canvas[y:y + 400, x:x + 400] = face
    (found,) = analyzer.analyze(canvas)
    bx, by, bw, bh = found.box
    assert x < bx + bw / 2 < x + 400 and y < by + bh / 2 < y + 400
    assert sum(found.scores.values()) == pytest.approx(1, abs=1e-4)


def test_max_faces_keeps_the_largest_faces_of_the_one_path(analyzer: Analyzer, photos_dir: Path) -> None:
    photo = photos_dir / "facenet_multiface.jpg"
    faces, crops = analyzer.analyze_with_crops(photo)
    (largest,) = analyzer.analyze(photo, max_faces=1)
    assert len(faces) == 6
    by_size = sorted(range(6), key=lambda i: faces[i].box[2] * faces[i].box[3], reverse=True)
    index = by_size[0]
    assert largest.box == faces[index].box
    # the three largest, in the detector's order; 0 or more than there are: every face
    assert [f.box for f in analyzer.analyze(photo, max_faces=3)] == [faces[i].box for i in sorted(by_size[:3])]
    assert [f.box for f in analyzer.analyze(photo, max_faces=0)] == [f.box for f in faces]
    assert [f.box for f in analyzer.analyze(photo, max_faces=7)] == [f.box for f in faces]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="max_faces must be 0 \\(every face\\) or a number of faces"):
            analyzer.analyze(photo, max_faces=bad)  # type: ignore[arg-type]
    # its crop classified alone: the batch of one that max_faces=1 runs, so the same bits (conftest's
    # KERNEL_ORDER_ABS: a batch of six may sum in another order on another CPU)
    alone = analyzer.classify([crops[index]])[0]
    assert largest.scores == alone and largest.emotion == max(alone, key=alone.get)
    assert largest.scores == pytest.approx(faces[index].scores, abs=KERNEL_ORDER_ABS)
    assert analyzer.analyze(np.full((240, 320, 3), 90, np.uint8), max_faces=1) == []


def test_public_properties_describe_the_model_and_detector(analyzer: Analyzer) -> None:
    assert analyzer.labels == analyzer.model_info.labels and len(analyzer.labels) == 7
    assert analyzer.model_path.is_file() and analyzer.model_name == analyzer.model_path.name == "default.onnx"
    assert analyzer.detector_name == analyzer.options.detector == "blazeface-multi"
    assert analyzer.tta is False


def _short_pass_threads() -> set:
    """The detectors' short-range pass threads alive now (another test's analyzer may end its own meanwhile, so
    the test compares threads, not counts)."""
    import threading

    return {t for t in threading.enumerate() if t.name.startswith("blazeface-short")}


def test_close_frees_the_detector_thread_and_refuses_later_calls(photos_dir: Path) -> None:
    before = _short_pass_threads()
    with Analyzer() as analyzer:
        # the crowded selfie's edge-cut faces need the short-range pass, which runs on the detector's thread
        assert len(analyzer.analyze(photos_dir / "deepface_selfie-many-people.jpg")) == 7
        ours = _short_pass_threads() - before
        assert len(ours) == 1
    assert not ours & _short_pass_threads()
    with pytest.raises(ValueError, match="closed"):
        analyzer.analyze(ASTRONAUT)
    analyzer.close()  # idempotent
    assert analyzer.labels  # what it describes stays readable


REACH_INS = {"classifier", "detector", "_classifier", "_detector"}


def _reach_ins(path: Path) -> list[str]:
    """``x._classifier`` / ``x._detector`` anywhere, and ``<...analyzer>.classifier`` / ``.detector``."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Attribute) or node.attr not in REACH_INS:
            continue
        owner = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        if node.attr.startswith("_") or "analyzer" in owner.lower():
            found.append(f"{path.relative_to(REPO)}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_nothing_outside_the_pipeline_reaches_into_the_analyzer(analyzer: Analyzer) -> None:
    """The classifier and detector are private to emolens/pipeline: callers use the Analyzer's methods and
    properties (labels, model_info, model_name, detector_name, detect/crop/classify...)."""
    pipeline = REPO / "src" / "emolens" / "pipeline"
    files = [p for folder in ("src", "benchmarks", "tools", "tests") for p in sorted((REPO / folder).rglob("*.py"))
             if pipeline not in p.parents]
    assert len(files) > 100
    assert [hit for path in files for hit in _reach_ins(path)] == []
    assert not hasattr(analyzer, "classifier") and not hasattr(analyzer, "detector")


def test_evaluation_of_whole_photos_classifies_the_largest_face_through_the_analyzer(
        analyzer: Analyzer, photos_dir: Path, tmp_path: Path) -> None:
    """``emolens evaluate`` without --crops: the largest face of each photo, as Analyzer.analyze(max_faces=1)
    finds and scores it; a photo with no face is counted, not scored."""
    import cv2

    from emolens.evaluation.evaluate import evaluate

    photos = ["deepface_couple.jpg", "facenet_multiface.jpg", "deepface_img1.jpg", "deepface_img2.jpg"]
    folder = tmp_path / "data" / "happy"
    folder.mkdir(parents=True)
    for name in photos:
        (folder / name).write_bytes((photos_dir / name).read_bytes())
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 300, 3), 90, np.uint8))
    summary = evaluate(tmp_path / "data", analyzer, tta=False, find_faces=True)
    assert summary["n"] == 4 and summary["no_face"] == 1 and summary["tta"] is False
    expected = [analyzer.analyze(cv2.imread(str(photos_dir / name)), tta=False, max_faces=1)[0].emotion
                for name in photos]
    happy = analyzer.labels.index("happy")
    assert summary["confusion"][happy] == [expected.count(label) for label in analyzer.labels]
