"""``emolens analyze``, ``video`` and ``webcam`` on real photos, a video built from them, and bad input."""

from __future__ import annotations

import csv
import json
import re
import shutil
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from support.helpers import FIXTURES

from emolens.cli.main import cli
from emolens.cli.output import to_json

ASTRONAUT = FIXTURES / "astronaut.png"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def photo_folder(tmp_path: Path, photos_dir: Path) -> Path:
    """Two real photos in a nested folder, plus the astronaut."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(photos_dir / "deepface_couple.jpg", folder)
    shutil.copy(photos_dir / "facenet_multiface.jpg", folder / "sub")
    shutil.copy(ASTRONAUT, folder / "sub")
    return folder


def test_analyze_json_reads_well_one_array_of_numbers_per_line(photo_folder: Path) -> None:
    """Two-space indents; a box or a landmark on one line, never one number per line."""
    result = run("analyze", str(photo_folder / "sub" / "astronaut.png"), "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (face,) = json.loads(result.stdout)[0]["faces"]
    assert f'        "box": {json.dumps(face["box"])},' in lines
    assert f'          {json.dumps(face["landmarks"][0])},' in lines
    assert not [line for line in lines if re.fullmatch(r"\s*-?[\d.]+,?", line)]


def test_json_output_leaves_brackets_in_strings_alone() -> None:
    value = {"path": "a [1,  2]\n[3 ].jpg", "confusion": [[1, 2], [3, 4]], "grid": [[-0.5, 1e-05]], "empty": []}
    assert json.loads(to_json(value)) == value
    assert '    [1, 2],\n    [3, 4]\n' in to_json(value)


def test_analyze_json_covers_folders_recursively(photo_folder: Path) -> None:
    result = run("analyze", str(photo_folder), "--json")
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert {name: len(r["faces"]) for name, r in records.items()} == {
        "deepface_couple.jpg": 2, "facenet_multiface.jpg": 6, "astronaut.png": 1}
    face = records["astronaut.png"]["faces"][0]
    assert set(face) >= {"box", "landmarks", "emotion", "scores"} and face["emotion"] in face["scores"]


def test_analyze_csv_and_annotated_images_with_crops(photo_folder: Path, tmp_path: Path) -> None:
    out, table = tmp_path / "out", tmp_path / "faces.csv"
    result = run("analyze", str(photo_folder), "--csv", str(table), "--annotate", str(out), "--save-crops",
                 "--detector", "haar")
    assert result.exit_code == 0, result.output
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert sum(Path(r["source"]).name == "deepface_couple.jpg" for r in rows) == 2
    assert all(abs(sum(float(r[k]) for k in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
                   - 1) < 1e-3 for r in rows)
    assert {p.name for p in out.rglob("*") if "_face" not in p.name and p.is_file()} == {
        "deepface_couple.jpg", "facenet_multiface.jpg", "astronaut.png"}  # a PNG in gives a PNG out
    annotated = cv2.imread(str(out / "sub" / "astronaut.png"))
    assert annotated.shape == (512, 512, 3)
    assert not np.array_equal(annotated, cv2.imread(str(ASTRONAUT)))  # boxes were drawn
    assert (out / "deepface_couple_face1.png").is_file() and (out / "sub" / "astronaut_face0.png").is_file()


def test_analyze_crops_classifies_whole_images(fer_dir: Path) -> None:
    """FER2013 faces are crops already: one face each, covering the image, no detector involved."""
    happy = sorted((fer_dir / "privatetest" / "happy").glob("*.png"))[:20]
    result = run("analyze", *map(str, happy), "--crops", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [len(r["faces"]) for r in records] == [1] * 20
    assert all(r["faces"][0]["box"] == [0, 0, 48, 48] and r["faces"][0]["landmarks"] is None for r in records)
    assert sum(r["faces"][0]["emotion"] == "happy" for r in records) >= 14


def test_bad_file_in_a_folder_is_reported_and_skipped(photo_folder: Path) -> None:
    (photo_folder / "broken.jpg").write_bytes((photo_folder / "deepface_couple.jpg").read_bytes()[:2000])
    result = run("analyze", str(photo_folder), "--json")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert len(records) == 4 and sum("error" in r for r in records) == 1
    assert "broken.jpg: cannot decode image" in result.stderr
    assert "1 of 4 files failed" in result.stderr


@pytest.mark.parametrize("setup, message", [
    (lambda d: d / "nope.jpg", "nope.jpg: no such file or folder"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no image files in this folder"),
])
def test_analyze_bad_paths_fail_with_one_line(tmp_path: Path, setup, message: str) -> None:
    result = run("analyze", str(setup(tmp_path)))
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def test_huge_image_fails_cleanly_naming_the_limit_and_its_setting(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), np.zeros((7200, 7200), np.uint8))
    result = run("analyze", str(huge))
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {huge}: image is 7200x7200, over the limit of 50,000,000 pixels (the "
                             "MAX_PIXELS setting, EMOLENS_MAX_PIXELS)\n")
    lower = CliRunner().invoke(cli, ["analyze", str(ASTRONAUT)], env={"EMOLENS_MAX_PIXELS": "1000"})
    assert lower.exit_code == 1 and "over the limit of 1,000 pixels" in lower.stderr
    assert "over the limit of 1,000 pixels" in run("analyze", str(ASTRONAUT), "--max-pixels", "1000").stderr


@pytest.mark.parametrize("content, message", [
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n",
     "not an image file in an accepted format (accepted: JPEG, PNG, WEBP, GIF, BMP, TIFF; the IMAGE_FORMATS "
     "setting, EMOLENS_IMAGE_FORMATS, allows more)"),
    (ASTRONAUT.read_bytes()[:5000], "cannot decode image, truncated or corrupt"),
])
def test_a_bad_single_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    result = run("analyze", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bad}: {message}") and result.stderr.count("\n") == 1, result.stderr


def test_image_formats_option_allows_more(tmp_path: Path) -> None:
    pcx = tmp_path / "astronaut.pcx"
    cv2.imwrite(str(tmp_path / "a.bmp"), cv2.imread(str(ASTRONAUT)))
    from PIL import Image

    Image.open(tmp_path / "a.bmp").save(pcx)
    assert "accepted: JPEG, PNG" in run("analyze", str(pcx)).stderr
    allowed = CliRunner().invoke(cli, ["analyze", str(pcx)], env={"EMOLENS_IMAGE_FORMATS": "PNG,PCX"})
    assert allowed.exit_code == 0 and "1 face" in allowed.stdout
    assert "got NOPE" in run("analyze", str(pcx), "--image-formats", "nope").stderr


def test_no_face_is_not_an_error(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 300, 3), 80, np.uint8))
    result = run("analyze", str(blank), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["faces"] == []


def test_video_tracks_faces_and_writes_csv_plot_and_video(photo_video: Path, tmp_path: Path) -> None:
    table, plot, annotated = tmp_path / "faces.csv", tmp_path / "timeline.png", tmp_path / "annotated.mp4"
    result = run("video", str(photo_video), "--csv", str(table), "--plot", str(plot), "--annotate", str(annotated),
                 "--every", "2")
    assert result.exit_code == 0, result.output
    with table.open() as f:
        rows = list(csv.DictReader(f))
    frames = sorted({int(r["frame"]) for r in rows})
    assert frames == list(range(0, 18, 2))
    assert {r["class_balance"] for r in rows} == {"0.5"}  # the bundled model's default
    ids_per_frame = {n: sorted(int(r["track_id"]) for r in rows if int(r["frame"]) == n) for n in frames}
    assert all(ids_per_frame[n] == [1, 2] for n in range(0, 12, 2))  # the couple keep their IDs as they move
    assert all(len(ids_per_frame[n]) == 6 and min(ids_per_frame[n]) >= 3 for n in range(12, 18, 2))
    assert cv2.imread(str(plot)).shape[:2] == (400, 1000)
    with av.open(str(annotated)) as video:  # H.264, which browsers play (tests/web/test_browser_video.py)
        assert video.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in video.decode(video=0)) == 18


def test_annotate_without_the_video_extra_says_which_to_install(photo_video: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    result = run("video", str(photo_video), "--annotate", str(tmp_path / "out.mp4"))
    assert result.exit_code == 1
    assert result.stderr == 'Error: this needs av, from the "video" extra: pip install "emolens[video]"\n'


def test_undecodable_video_fails_cleanly(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    result = run("video", str(fake))
    assert result.exit_code == 1 and "cannot decode video" in result.stderr
    assert "no such file" in run("video", str(tmp_path / "gone.mp4")).stderr


def test_webcam_without_camera_fails_cleanly() -> None:
    result = run("webcam", "--camera", "9")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: camera 9: cannot open it or read a frame (no camera with this number?)"


def test_help_states_the_input_limits_defaults() -> None:
    from emolens.images import IMAGE_FORMATS, MAX_PIXELS

    text = " ".join(run("analyze", "--help").stdout.split())
    assert f"default: {MAX_PIXELS:,}; env EMOLENS_MAX_PIXELS" in text
    assert f"(default: {','.join(IMAGE_FORMATS)}; env EMOLENS_IMAGE_FORMATS)" in text.replace(", ", ",")


@pytest.mark.parametrize("command", ["video", "webcam"])
def test_frame_commands_take_no_image_file_limits(command: str) -> None:
    """Their frames come from a video decoder or a camera, never from an image file."""
    text = run(command, "--help").stdout
    assert "--max-pixels" not in text and "--image-formats" not in text and "--threads" in text
    refused = run(command, *(["clip.mp4"] if command == "video" else []), "--max-pixels", "5")
    assert refused.exit_code == 2 and "No such option '--max-pixels'" in refused.stderr
