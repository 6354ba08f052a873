"""Face tracking and emotion smoothing across frames: the tracker at unit level (Face lists in, tracked Face lists
out), and :class:`VideoStream` (a shared, stateless Analyzer plus a tracker per stream) on a real video built from
photos; the CLI test runs ``emolens video`` on it too."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.helpers import FIXTURES, write_photo_video

from emolens import Analyzer, FaceTracker, VideoStream
from emolens.errors import ConfigError, InputError
from emolens.pipeline.results import Face
from emolens.pipeline.tracking import iou_matrix
from emolens.pipeline.video import VideoReader

ASTRONAUT = FIXTURES / "astronaut.png"


def face(x: int, y: int, happy: float = 0.5, side: int = 100) -> Face:
    return Face((x, y, side, side), None, "happy" if happy >= 0.5 else "sad", {"happy": happy, "sad": 1 - happy})


def test_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], np.float32)
    assert iou_matrix(a, b) == pytest.approx(np.array([[1.0, 50 / 150, 0.0]]))


def test_ids_follow_moving_faces_whatever_the_detection_order() -> None:
    tracker = FaceTracker()
    first = tracker.update([face(0, 0), face(300, 0)], 0.0)
    second = tracker.update([face(310, 5), face(8, 4)], 0.1)
    assert [f.track_id for f in first] == [1, 2]
    assert [f.track_id for f in second] == [2, 1]
    assert [f.box for f in second] == [(310, 5, 100, 100), (8, 4, 100, 100)]  # the faces' own boxes


def test_scores_are_smoothed_with_the_time_constant() -> None:
    tracker = FaceTracker(smoothing_s=0.3)
    tracker.update([face(0, 0, happy=1.0)], 0.0)
    (smoothed,) = tracker.update([face(0, 0, happy=0.0)], 0.3)
    alpha = 1 - math.exp(-1)
    assert [smoothed.scores["happy"], smoothed.scores["sad"]] == pytest.approx([1 - alpha, alpha])
    assert smoothed.emotion == "sad"  # the top of the smoothed scores: 1 - 0.632 < 0.632
    (unsmoothed,) = FaceTracker(smoothing_s=0).update([face(0, 0, happy=0.2)], 0.0)
    assert unsmoothed.scores == pytest.approx({"happy": 0.2, "sad": 0.8})


def test_a_face_gone_longer_than_forget_s_gets_a_new_id() -> None:
    tracker = FaceTracker(forget_s=1.0)
    assert tracker.update([face(0, 0)], 0.0)[0].track_id == 1
    assert tracker.update([], 0.5) == []
    assert tracker.update([face(0, 0)], 0.9)[0].track_id == 1
    assert tracker.update([face(0, 0)], 2.5)[0].track_id == 2


@pytest.mark.parametrize(("options", "message"), [
    ({"smoothing_s": -0.1}, "smoothing_s must be a number of seconds, 0 or more"),
    ({"forget_s": float("nan")}, "forget_s must be a number of seconds, 0 or more"),
    ({"iou_threshold": 0}, "iou_threshold must be a number above 0, up to 1"),
])
def test_tracker_settings_are_checked(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FaceTracker(**options)


@pytest.fixture(scope="module")
def video_frames(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> list[np.ndarray]:
    """The 18 frames of support.helpers.write_photo_video: 12 of the couple drifting right, then 6 of six faces."""
    path = write_photo_video(tmp_path_factory.mktemp("video") / "clip.avi", photos_dir)
    with VideoReader(path) as reader:
        assert reader.fps == 10
        return list(reader)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _by_x(faces: list) -> list:
    return sorted(faces, key=lambda f: f.box[0])


def test_video_stream_keeps_track_ids_and_smooths_scores(analyzer: Analyzer, video_frames: list[np.ndarray]) -> None:
    stream = VideoStream(analyzer)
    tracked = [_by_x(stream.analyze(frame, i / 10)) for i, frame in enumerate(video_frames)]
    still = [_by_x(analyzer.analyze(frame)) for frame in video_frames]
    assert all(f.track_id is None for faces in still for f in faces)
    # the couple: the same two IDs on every frame, each on the same person as the couple drifts
    # (IDs go out in the detector's order, which the test does not pin)
    couple = [[f.track_id for f in faces] for faces in tracked[:12]]
    assert sorted(couple[0]) == [1, 2] and couple == [couple[0]] * 12
    # then the six-face photo: six new IDs, the same on each of its frames
    ids = [[f.track_id for f in faces] for faces in tracked[12:]]
    assert len(set(ids[0])) == 6 and not set(ids[0]) & {1, 2} and ids == [ids[0]] * 6
    # the first frame is unsmoothed (the same analyzer, frame and crops as analyze: the same bits);
    # afterwards the happy face's confidence moves less than frame by frame
    assert tracked[0][0].scores == still[0][0].scores
    happy_tracked = [faces[0].scores["happy"] for faces in tracked[:12]]
    happy_still = [faces[0].scores["happy"] for faces in still[:12]]
    assert np.std(happy_tracked) < 0.5 * np.std(happy_still)


def test_streams_sharing_an_analyzer_keep_their_own_tracks(analyzer: Analyzer,
                                                           video_frames: list[np.ndarray]) -> None:
    six, couple = VideoStream(analyzer), VideoStream(analyzer)
    assert sorted(f.track_id for f in six.analyze(video_frames[12], 0)) == [1, 2, 3, 4, 5, 6]
    assert sorted(f.track_id for f in couple.analyze(video_frames[0], 0)) == [1, 2]
    assert sorted(f.track_id for f in six.analyze(video_frames[13], 0.1)) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("later", [1.0, 0.9995, float("nan"), True])
def test_times_must_increase(analyzer: Analyzer, later: float) -> None:
    stream = VideoStream(analyzer)
    stream.analyze(ASTRONAUT, 1.0)
    with pytest.raises(InputError, match="must increase|number of seconds"):
        stream.analyze(ASTRONAUT, later)
    assert stream.analyze(ASTRONAUT, 1.0005)[0].track_id == 1  # the stream goes on


def test_a_video_stream_takes_the_upright_pass(analyzer: Analyzer) -> None:
    """Frames never take the any-angle passes, even from an analyzer whose images do."""
    with Analyzer(any_angle=True) as turning:
        sideways = np.ascontiguousarray(np.rot90(turning.load(ASTRONAUT)))
        upright = [f.box for f in analyzer.analyze(sideways)]
        assert [f.box for f in turning.analyze(sideways)] != upright  # the turned passes see it otherwise
        assert [f.box for f in VideoStream(turning).analyze(sideways, 0)] == upright


def test_video_reader_closes_its_file(tmp_path: Path, photos_dir: Path) -> None:
    path = write_photo_video(tmp_path / "clip.avi", photos_dir)
    with VideoReader(path) as reader:
        first = next(iter(reader))
        assert first.shape == (360, 640, 3)
    assert list(reader) == []
    with VideoReader(path) as reader:
        assert len(list(reader)) == 18


def test_video_reader_decodes_ahead_and_gives_opencvs_frames_in_order(tmp_path: Path, photos_dir: Path) -> None:
    """The next frame is decoded on another thread while the caller holds this one; the frames are OpenCV's, in
    order, and closing the reader mid-way (a read in flight) ends the iteration cleanly."""
    path = write_photo_video(tmp_path / "clip.avi", photos_dir)
    capture = cv2.VideoCapture(str(path))
    expected = []
    while (read := capture.read())[0]:
        expected.append(read[1])
    capture.release()
    with VideoReader(path) as reader:
        frames = iter(reader)
        got = [next(frames)]
        assert any(t.name.startswith("video-decode") for t in threading.enumerate())  # reading the next already
        got += list(frames)
    assert len(got) == len(expected) == 18 and all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    with VideoReader(path) as reader:
        frames = iter(reader)
        next(frames)
        reader.close()  # while the second frame is being read
        assert list(frames) == []


def _counting(monkeypatch: pytest.MonkeyPatch, analyzer: Analyzer) -> dict[str, int]:
    """Counts of the analyzer's whole-frame and near-box detections from now on."""
    calls = {"detect": 0, "detect_near": 0}
    for name in calls:
        def counted(*args: object, _name: str = name, _method: object = getattr(analyzer, name), **kw: object):
            calls[_name] += 1
            return _method(*args, **kw)  # type: ignore[operator]
        monkeypatch.setattr(analyzer, name, counted)
    return calls


def test_a_stream_searches_the_whole_frame_every_search_every_s_and_looks_near_its_faces_between(
        analyzer: Analyzer, video_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """The couple's 12 frames at 10 frames/s: whole-frame searches at 0, 0.3, 0.6 and 0.9 s, the two faces looked
    for near their last boxes in between, with the IDs and faces of a stream that searches every frame."""
    searching, tracking = VideoStream(analyzer, search_every_s=0), VideoStream(analyzer)
    every = [searching.analyze(frame, i / 10) for i, frame in enumerate(video_frames[:12])]
    calls = _counting(monkeypatch, analyzer)
    tracked = [tracking.analyze(frame, i / 10) for i, frame in enumerate(video_frames[:12])]
    assert calls == {"detect": 4, "detect_near": 8}
    for ours, theirs in zip(tracked, every, strict=True):
        assert sorted(f.track_id for f in ours) == sorted(f.track_id for f in theirs) == [1, 2]
        for face in theirs:
            same = next(f for f in ours if f.track_id == face.track_id)
            assert float(iou_matrix(np.array([same.box], float), np.array([face.box], float))[0, 0]) >= 0.7


def test_a_face_not_found_near_its_box_makes_the_stream_search_the_whole_frame(
        analyzer: Analyzer, video_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    stream = VideoStream(analyzer)
    assert len(stream.analyze(video_frames[0], 0)) == 2
    calls = _counting(monkeypatch, analyzer)
    assert stream.analyze(np.zeros_like(video_frames[0]), 0.1) == []  # the faces are gone: search everywhere
    assert calls == {"detect": 1, "detect_near": 1}


@pytest.mark.parametrize("value", [-1, float("inf"), "0.25", True])
def test_search_every_s_is_checked(analyzer: Analyzer, value: object) -> None:
    with pytest.raises(ConfigError, match="search_every_s"):
        VideoStream(analyzer, search_every_s=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("every", [0, 1.5, True])
def test_analyze_video_checks_every(analyzer: Analyzer, every: object) -> None:
    with pytest.raises(ConfigError, match="every"):
        next(VideoStream(analyzer).analyze_video([np.zeros((48, 64, 3), np.uint8)], 10, every))  # type: ignore[arg-type]


@pytest.mark.parametrize("every", [1, 2])
def test_analyze_video_gives_analyze_s_results_in_order_finding_faces_on_a_second_thread(
        analyzer: Analyzer, video_frames: list[np.ndarray], every: int) -> None:
    """Every frame comes out, in order; every ``every``-th with the faces a stream's analyze gives it (the same
    bits: the same detections and crops), the others with None; the next analysed frame's faces are found on the
    "video-detect" thread meanwhile, and none is left once the video is done or given up."""
    one_by_one = VideoStream(analyzer)
    expected = [one_by_one.analyze(frame, i / 10) if i % every == 0 else None for i, frame in enumerate(video_frames)]
    threads = []
    got = []
    for index, frame, faces in VideoStream(analyzer).analyze_video(video_frames, 10, every):
        threads.append(any(t.name.startswith("video-detect") for t in threading.enumerate()))
        got.append((index, faces))
        assert frame is video_frames[index]
    assert [i for i, _ in got] == list(range(len(video_frames)))
    assert [faces for _, faces in got] == expected
    assert all(threads)
    stream = VideoStream(analyzer).analyze_video(video_frames, 10)
    next(stream)
    stream.close()
    assert not any(t.name.startswith("video-detect") for t in threading.enumerate())
