"""Speed of the whole pipeline on real images: per-frame latency on 640x480 one-face frames (detect, crop and
classify, total; median and p90), throughput on the photo folder (decode included), and video frames/s.

The stages are timed through the Analyzer's public stage methods (detect, crop, classify); the total is a separate
call of Analyzer.analyze (its one detect -> crop -> classify -> Face path), so it is what a caller gets.

    python benchmarks/latency.py [--detector blazeface-multi] [--tta] [--compare blazeface ...]
                                 [--model PATH] [--compare-models PATH ...] [--compare-fer [PYTHON]]

``--compare-models`` times other emotion models (an ensemble from ``emolens ensemble``, say) the same way, taking
turns with ``--model`` frame by frame. ``--compare-fer`` times the `fer` package on the same frames, taking turns
with emolens frame by frame on the frame path, and on the video's frames just before `emolens video`'s path (whose
second thread would overlap fer's turns); fer runs in its own venv through fer_worker.py --serve (see
compare_fer.py for its set-up). It prints fer's median over ours for the frame path and for the video.

The frame path is the live one (upright faces); the photo folder is timed on the photo path too (faces at any
angle, ``AnalyzerOptions.any_angle``), taking turns photo by photo.

Targets: median total <= 8 ms per 640x480 one-face frame; video >= 60 frames/s; issue 21: fer's median per frame
at least 6 times ours, on the frame path and in the video.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
from common import PHOTOS, median_p90, one_face_frames

from emolens import Analyzer, AnalyzerOptions, VideoStream
from emolens.emotion.preprocessing import prepare_crops
from emolens.faces import DEFAULT_DETECTOR, DETECTORS
from emolens.pipeline.tracking import iou_matrix
from emolens.pipeline.video import VideoReader


class FerTurns:
    """The `fer` package in its own venv (fer_worker.py --serve) on the same frames, one frame when asked."""

    def __init__(self, python: str, frames: list, folder: Path) -> None:
        np.savez(folder / "frames.npz", frames=np.stack(frames))
        worker = Path(__file__).with_name("fer_worker.py")
        self._process = subprocess.Popen([python, str(worker), str(folder / "frames.npz"), "--serve"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        while self._process.stdout.readline().strip() != "ready":  # TensorFlow's own lines come first
            if self._process.poll() is not None:
                raise RuntimeError(f"{python} {worker} failed (is fer installed there? see compare_fer.py)")
        self.ms: list[float] = []
        self.cpu_ms: list[float] = []

    def time(self, index: int) -> None:
        """Time fer on frame ``index`` (wall, and CPU of its process)."""
        self._process.stdin.write(f"{index}\n")
        self._process.stdin.flush()
        wall, cpu = self._process.stdout.readline().split()[:2]
        self.ms.append(float(wall))
        self.cpu_ms.append(float(cpu))

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait()


def frame_latency(analyzers: list[Analyzer], frames: list, repeats: int, fer: Optional[FerTurns] = None) -> None:
    """Detect, crop + classify (the stages) and analyze (the total) per frame; several analyzers (and fer) take
    turns frame by frame, so that a busy machine slows them alike."""
    times = [([], [], [], []) for _ in analyzers]
    for analyzer in analyzers:
        for frame in frames[:3]:
            analyzer.analyze(frame)  # warm-up
    for _ in range(repeats):
        for index, frame in enumerate(frames):
            if fer is not None:
                fer.time(index)
            for analyzer, (detect_ms, classify_ms, total_ms, cpu_ms) in zip(analyzers, times, strict=True):
                start = time.perf_counter()
                detections = analyzer.detect(frame)
                detected = time.perf_counter()
                analyzer.classify(analyzer.crop(frame, detections))
                classified, cpu = time.perf_counter(), time.process_time()
                analyzer.analyze(frame)
                detect_ms.append((detected - start) * 1000)
                classify_ms.append((classified - detected) * 1000)
                total_ms.append((time.perf_counter() - classified) * 1000)
                cpu_ms.append((time.process_time() - cpu) * 1000)
    for analyzer, (detect_ms, classify_ms, total_ms, cpu_ms) in zip(analyzers, times, strict=True):
        print(f"640x480 one-face frames ({len(frames)} frames x {repeats}), detector {analyzer.detector_name}, "
              f"model {analyzer.model_name}:")
        print(f"  detect            {median_p90(detect_ms)}")
        print(f"  crop + classify   {median_p90(classify_ms)}")
        print(f"  total             {median_p90(total_ms)}; CPU of the process (all its threads) median "
              f"{statistics.median(cpu_ms):6.2f} ms")
        if fer is not None:
            print(f"  fer (same frames, taking turns) {median_p90(fer.ms)}: fer / emolens "
                  f"{statistics.median(fer.ms) / statistics.median(total_ms):.2f}x; CPU of its process median "
                  f"{statistics.median(fer.cpu_ms):6.2f} ms: fer / emolens "
                  f"{statistics.median(fer.cpu_ms) / statistics.median(cpu_ms):.2f}x")


def folder_throughput(analyzer: Analyzer) -> None:
    """Images per second on the photo folder (decode included), upright and at any angle, taking turns."""
    paths = sorted((PHOTOS / "images").glob("*.jpg"))
    seconds, faces = {False: 0.0, True: 0.0}, {False: 0, True: 0}
    for path in paths:
        for any_angle in seconds:
            start = time.perf_counter()
            faces[any_angle] += len(analyzer.analyze(path, any_angle=any_angle))
            seconds[any_angle] += time.perf_counter() - start
    for any_angle, name in ((False, "upright (frame path)"), (True, "any angle (photo path)")):
        print(f"photo folder, {name}: {len(paths)} photos (330x512 to 4352x2903, decode included), "
              f"{faces[any_angle]} faces, {len(paths) / seconds[any_angle]:.1f} images/s")


def video_fps(analyzer: Analyzer, frames: list, fer: Optional[FerTurns], seconds: int = 10) -> None:
    """``emolens video``'s path on a clip of the frames, each shown for half a second: decode, detect, track and
    classify through :meth:`VideoStream.analyze_video` (the next frame's faces found on a second thread while this
    frame's are classified), per frame as the time between results. fer runs on the same frames first (its turns
    would overlap our second thread). Then, taking turns frame by frame, the same stream one frame at a time
    (:meth:`VideoStream.analyze`) and searching the whole of every frame (``search_every_s=0``), and how far the two
    agree (the tracked faces' boxes and scores)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        shown = [(i // 15) % len(frames) for i in range(30 * seconds)]
        for index in shown:
            writer.write(frames[index])
        writer.release()
        if fer is not None:
            for index in shown:
                fer.time(index)
        with VideoReader(path) as reader:
            gaps, last = [], time.perf_counter()
            for _ in VideoStream(analyzer).analyze_video(reader, reader.fps):
                gaps.append((time.perf_counter() - last) * 1000)
                last = time.perf_counter()
        print(f"video, `emolens video` (analyze_video, two threads): {len(gaps)} frames of 640x480 (decode, detect, "
              f"track, classify) at {len(gaps) / sum(gaps) * 1000:.1f} frames/s; per frame {median_p90(gaps[1:])}")
        streams = {"tracked": VideoStream(analyzer), "every frame searched": VideoStream(analyzer, search_every_s=0)}
        frame_ms: dict[str, list[float]] = {name: [] for name in streams}
        found: dict[str, list[list]] = {name: [] for name in streams}
        with VideoReader(path) as tracked_reader, VideoReader(path) as searched_reader:
            readers = {"tracked": iter(tracked_reader), "every frame searched": iter(searched_reader)}
            for i in range(len(shown)):
                for name, stream in streams.items():
                    start = time.perf_counter()
                    found[name].append(stream.analyze(next(readers[name]), i / tracked_reader.fps))
                    frame_ms[name].append((time.perf_counter() - start) * 1000)
    for name, ms in frame_ms.items():
        print(f"video, frame by frame, {name}: at {len(ms) / sum(ms) * 1000:.1f} frames/s; per frame "
              f"{median_p90(ms)}")
    ious, diffs = [], []
    for ours, theirs in zip(*found.values(), strict=True):
        if not ours:
            ious += [0.0] * len(theirs)
            continue
        overlap = iou_matrix(np.array([f.box for f in ours], float).reshape(-1, 4),
                             np.array([f.box for f in theirs], float).reshape(-1, 4))
        for j, face in enumerate(theirs):
            match = ours[int(overlap[:, j].argmax())]
            ious.append(float(overlap[:, j].max()))
            diffs.append(max(abs(match.scores[k] - v) for k, v in face.scores.items()))
    print(f"  tracked against every frame searched: {sum(map(len, found['tracked']))} against "
          f"{sum(map(len, found['every frame searched']))} faces; box IoU median {statistics.median(ious):.3f}, "
          f"min {min(ious):.3f}; largest score difference median {statistics.median(diffs):.3f}, "
          f"max {max(diffs):.3f}")
    if fer is not None:
        print(f"  fer on the same frames, before: {median_p90(fer.ms)}; fer / emolens video "
              f"{statistics.median(fer.ms) / statistics.median(gaps[1:]):.2f}x")


def _session(ort: Any, model: Path, optimization: Any, threads: int, entries: dict[str, str]) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level, options.intra_op_num_threads = optimization, threads
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def _timed_block(runs: list[Callable[[], object]], repeats: int) -> tuple[float, float, float]:
    """Median wall and calling-thread CPU ms of one pass over ``runs`` (after a warm-up pass), and the process's
    CPU ms per pass (its other threads included)."""
    for run in runs:
        run()
    wall, cpu, process = [], [], time.process_time()
    for _ in range(repeats):
        for run in runs:
            start, thread = time.perf_counter(), time.thread_time()
            run()
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - thread) * 1000)
    return statistics.median(wall), statistics.median(cpu), (time.process_time() - process) * 1000 / len(wall)


def session_options(analyzer: Analyzer, frames: list, repeats: int) -> None:
    """ONNX Runtime session settings, each timed in a block of its own (an idle pool of one setting would spin
    while the next one runs): the full-range BlazeFace model (the detector's main cost) alone on the frames at
    256x192; then both models of a frame, as an analysis runs them one after the other (the full-range model, then
    the emotion model on the frame's face). Median wall and CPU time of the calling thread, and CPU time of the
    whole process (its pools' threads included), per frame."""
    import onnxruntime as ort

    detector = Path(str(resources.files("emolens.faces") / "models" / "blazeface_full.onnx"))
    level = ort.GraphOptimizationLevel
    stop = {"session.force_spinning_stop": "1"}
    inputs = [cv2.cvtColor(cv2.resize(f, (256, 192), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)[None]
              .astype(np.float32) * (2 / 255) - 1 for f in frames]
    faces = [prepare_crops(analyzer.crop(f, analyzer.detect(f)), analyzer.model_info.preprocessing) for f in frames]
    print("BlazeFace full-range at 256x192 (median wall / CPU of this thread / CPU of the process, per frame):")
    for name, (optimization, threads, entries) in {
            "all (default), 1 thread": (level.ORT_ENABLE_ALL, 1, {}),
            "extended, 1 thread": (level.ORT_ENABLE_EXTENDED, 1, {}),
            "basic, 1 thread": (level.ORT_ENABLE_BASIC, 1, {}),
            "all, 2 threads": (level.ORT_ENABLE_ALL, 2, {}),
            "all, 2 threads, no spinning": (level.ORT_ENABLE_ALL, 2, {"session.intra_op.allow_spinning": "0"}),
            "all, 2 threads, spinning stops after a run": (level.ORT_ENABLE_ALL, 2, stop)}.items():
        session = _session(ort, detector, optimization, threads, entries)
        runs = [functools.partial(session.run, None, {"input": x}) for x in inputs]
        print("  {:44s} {:6.2f} ms / {:6.2f} ms / {:6.2f} ms".format(name, *_timed_block(runs, repeats)))
    print("Both models of a frame, one after the other (the same columns):")
    for name, (threads, entries) in {"1 thread each": (1, {}), "2 threads each": (2, {}),
                                     "2 threads each, spinning stops after a run": (2, stop)}.items():
        full = _session(ort, detector, level.ORT_ENABLE_ALL, threads, entries)
        emotion = _session(ort, analyzer.model_path, level.ORT_ENABLE_ALL, threads, entries)

        def both(x: np.ndarray, face: np.ndarray, full: Any = full, emotion: Any = emotion) -> None:
            full.run(None, {"input": x})
            emotion.run(None, {emotion.get_inputs()[0].name: face})

        runs = [functools.partial(both, x, face) for x, face in zip(inputs, faces, strict=True)]
        print("  {:44s} {:6.2f} ms / {:6.2f} ms / {:6.2f} ms".format(name, *_timed_block(runs, repeats)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--threads", type=int, default=0,
                        help="ONNX Runtime threads of each model on the frame path and the photo folder (default 0, "
                             "one per core: `emolens analyze`'s default)")
    parser.add_argument("--video-threads", type=int, default=1,
                        help="the same in the video (default 1: `emolens video`'s, whose second thread already "
                             "finds the next frame's faces)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", nargs="*", default=[], choices=sorted(DETECTORS),
                        help="also time these detectors per frame, taking turns with --detector")
    parser.add_argument("--model", type=Path, default=None, help="emotion model (default: the bundled one)")
    parser.add_argument("--compare-models", nargs="*", type=Path, default=[],
                        help="also time these emotion models per frame, taking turns with --model")
    parser.add_argument("--compare-fer", nargs="?", const="/tmp/fer-venv/bin/python", metavar="PYTHON",
                        help="also time the fer package (its venv's python) on the same frames, taking turns")
    parser.add_argument("--no-folder", action="store_true", help="leave out the photo folder")
    parser.add_argument("--sessions", action="store_true",
                        help="only time ONNX Runtime session settings: the full-range detector model alone, then "
                             "both models of a frame in turn")
    args = parser.parse_args()
    options = AnalyzerOptions(detector=args.detector, tta=args.tta, model_path=args.model, threads=args.threads)
    analyzer = Analyzer.create_from_options(options)
    print(f"detector {analyzer.detector_name}, model {analyzer.model_name}, tta {args.tta}, threads {args.threads} "
          f"(video: {args.video_threads})")
    frames = one_face_frames()
    if args.sessions:
        session_options(analyzer, frames, args.repeats)
        return
    others = [Analyzer.create_from_options(options.replace(detector=name)) for name in args.compare]
    others += [Analyzer.create_from_options(options.replace(model_path=path))
               for path in args.compare_models]
    with tempfile.TemporaryDirectory() as tmp:
        fer = FerTurns(args.compare_fer, frames, Path(tmp)) if args.compare_fer else None
        frame_latency([analyzer] + others, frames, args.repeats, fer)
        if fer is not None:
            fer.ms.clear()
            fer.cpu_ms.clear()
        with Analyzer.create_from_options(options.replace(threads=args.video_threads)) as video_analyzer:
            video_fps(video_analyzer, frames, fer)
        if fer is not None:
            fer.close()
    if not args.no_folder:
        folder_throughput(analyzer)


if __name__ == "__main__":
    main()
