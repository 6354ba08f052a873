"""Face tracking and emotion smoothing across frames: the tracker at unit level, and the Analyzer's video mode
(analyze_for_video) on a real video built from photos; the CLI test runs ``emolens video`` on it too."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, write_photo_video

from emolens import Analyzer, AnalyzerOptions, RunningMode
from emolens.errors import ConfigError, InputError
from emolens.faces import Detection
from emolens.pipeline.video import FaceTracker, VideoReader, iou_matrix

ASTRONAUT = FIXTURES / "astronaut.png"


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
    unsmoothed = FaceTracker(smoothing_s=0).update([det(0, 0)], np.array([[0.2, 0.8]]), 0.0)
    assert unsmoothed[0][1] == pytest.approx([0.2, 0.8])


def test_a_face_gone_longer_than_forget_s_gets_a_new_id() -> None:
    tracker = FaceTracker(forget_s=1.0)
    p = np.array([[0.5, 0.5]])
    assert tracker.update([det(0, 0)], p, 0.0)[0][0] == 1
    assert tracker.update([], np.zeros((0, 2)), 0.5) == []
    assert tracker.update([det(0, 0)], p, 0.9)[0][0] == 1
    assert tracker.update([det(0, 0)], p, 2.5)[0][0] == 2


@pytest.fixture(scope="module")
def video_frames(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> list[np.ndarray]:
    """The 18 frames of conftest.write_photo_video: 12 of the couple drifting right, then 6 of six faces."""
    path = write_photo_video(tmp_path_factory.mktemp("video") / "clip.avi", photos_dir)
    with VideoReader(path) as reader:
        assert reader.fps == 10
        return list(reader)


@pytest.fixture(scope="module")
def image_mode() -> Analyzer:
    return Analyzer()


@pytest.fixture()
def video_mode() -> Analyzer:
    return Analyzer.create_from_options(AnalyzerOptions(running_mode=RunningMode.VIDEO))


def _by_x(faces: list) -> list:
    return sorted(faces, key=lambda f: f.box[0])


def test_video_mode_keeps_track_ids_and_smooths_scores(video_mode: Analyzer, image_mode: Analyzer,
                                                       video_frames: list[np.ndarray]) -> None:
    tracked = [_by_x(video_mode.analyze_for_video(frame, i * 100)) for i, frame in enumerate(video_frames)]
    still = [_by_x(image_mode.analyze(frame)) for frame in video_frames]
    assert all(f.track_id is None for faces in still for f in faces)
    # the couple: the same two IDs on every frame, each on the same person as the couple drifts (which person
    # gets ID 1 is the detector's order on the first frame)
    couple = [[f.track_id for f in faces] for faces in tracked[:12]]
    assert sorted(couple[0]) == [1, 2] and couple == [couple[0]] * 12
    # then the six-face photo: six new IDs, the same on each of its frames
    ids = [[f.track_id for f in faces] for faces in tracked[12:]]
    assert len(set(ids[0])) == 6 and not set(ids[0]) & {1, 2} and ids == [ids[0]] * 6
    # the first frame is unsmoothed (the same frame, crops and thread count as image mode: the same bits);
    # afterwards the happy face's confidence moves less than frame by frame
    assert tracked[0][0].scores == still[0][0].scores
    happy_tracked = [faces[0].scores["happy"] for faces in tracked[:12]]
    happy_still = [faces[0].scores["happy"] for faces in still[:12]]
    assert np.std(happy_tracked) < 0.5 * np.std(happy_still)


def test_reset_starts_a_new_video(video_mode: Analyzer, video_frames: list[np.ndarray]) -> None:
    assert sorted(f.track_id for f in video_mode.analyze_for_video(video_frames[12], 0)) == [1, 2, 3, 4, 5, 6]
    video_mode.reset()
    assert sorted(f.track_id for f in video_mode.analyze_for_video(video_frames[0], 0)) == [1, 2]


@pytest.mark.parametrize("later", [1000, 999.5, float("nan")])
def test_timestamps_must_increase(video_mode: Analyzer, later: float) -> None:
    video_mode.analyze_for_video(ASTRONAUT, 1000)
    with pytest.raises(InputError, match="must increase|number of milliseconds"):
        video_mode.analyze_for_video(ASTRONAUT, later)
    assert video_mode.analyze_for_video(ASTRONAUT, 1000.5)[0].track_id == 1  # the stream goes on


@pytest.mark.parametrize("call", [
    lambda a: a.analyze(ASTRONAUT), lambda a: a.analyze_with_crops(ASTRONAUT), lambda a: a.explain(ASTRONAUT),
    lambda a: a.analyze_crop(ASTRONAUT),
])
def test_video_mode_refuses_image_calls(video_mode: Analyzer, call) -> None:
    with pytest.raises(ConfigError, match=r"in image mode, and this one runs in video mode: call "
                                          r"analyze_for_video\(frame, timestamp_ms\)"):
        call(video_mode)


def test_image_mode_refuses_video_calls(image_mode: Analyzer) -> None:
    with pytest.raises(ConfigError, match=r"analyze_for_video\(\) needs an Analyzer in video mode"):
        image_mode.analyze_for_video(ASTRONAUT, 0)
    with pytest.raises(ConfigError, match="video mode"):
        image_mode.reset()


def test_video_reader_closes_its_file(tmp_path: Path, photos_dir: Path) -> None:
    path = write_photo_video(tmp_path / "clip.avi", photos_dir)
    with VideoReader(path) as reader:
        first = next(iter(reader))
        assert first.shape == (360, 640, 3)
    assert list(reader) == []
    with VideoReader(path) as reader:
        assert len(list(reader)) == 18
