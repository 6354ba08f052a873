"""Speed of the whole pipeline on real images: per-frame latency on 640x480 one-face frames (detect, crop and
classify, total; median and p90), throughput on the photo folder (decode included), and video frames/s.

The stages are timed through the Analyzer's public stage methods (detect, crop, classify); the total is a separate
call of Analyzer.analyze (its one detect -> crop -> classify -> Face path), so it is what a caller gets.

    python benchmarks/latency.py [--detector blazeface-multi] [--tta] [--compare blazeface ...]
                                 [--model PATH] [--compare-models PATH ...]

``--compare-models`` times other emotion models (an ensemble from ``emolens ensemble``, say) the same way, taking
turns with ``--model`` frame by frame.

Targets: median total <= 8 ms per 640x480 one-face frame; video >= 60 frames/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import cv2
from common import PHOTOS, median_p90, one_face_frames

from emolens import Analyzer, AnalyzerOptions, RunningMode
from emolens.faces import DEFAULT_DETECTOR, DETECTORS
from emolens.pipeline.video import VideoReader


def frame_latency(analyzers: list[Analyzer], frames: list, repeats: int) -> None:
    """Detect, crop + classify (the stages) and analyze (the total) per frame; several analyzers take turns frame by
    frame, so that a busy machine slows them alike."""
    times = [([], [], []) for _ in analyzers]
    for analyzer in analyzers:
        for frame in frames[:3]:
            analyzer.analyze(frame)  # warm-up
    for _ in range(repeats):
        for frame in frames:
            for analyzer, (detect_ms, classify_ms, total_ms) in zip(analyzers, times, strict=True):
                start = time.perf_counter()
                detections = analyzer.detect(frame)
                detected = time.perf_counter()
                analyzer.classify(analyzer.crop(frame, detections))
                classified = time.perf_counter()
                analyzer.analyze(frame)
                detect_ms.append((detected - start) * 1000)
                classify_ms.append((classified - detected) * 1000)
                total_ms.append((time.perf_counter() - classified) * 1000)
    for analyzer, (detect_ms, classify_ms, total_ms) in zip(analyzers, times, strict=True):
        print(f"640x480 one-face frames ({len(frames)} frames x {repeats}), detector {analyzer.detector_name}, "
              f"model {analyzer.model_name}:")
        print(f"  detect            {median_p90(detect_ms)}")
        print(f"  crop + classify   {median_p90(classify_ms)}")
        print(f"  total             {median_p90(total_ms)}")


def folder_throughput(analyzer: Analyzer) -> None:
    paths = sorted((PHOTOS / "images").glob("*.jpg"))
    start = time.perf_counter()
    faces = sum(len(analyzer.analyze(p)) for p in paths)
    elapsed = time.perf_counter() - start
    print(f"photo folder: {len(paths)} photos (330x512 to 4352x2903, decode included), {faces} faces, "
          f"{len(paths) / elapsed:.1f} images/s")


def video_fps(options: AnalyzerOptions, frames: list, seconds: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        for i in range(30 * seconds):
            writer.write(frames[(i // 15) % len(frames)])
        writer.release()
        with Analyzer.create_from_options(options) as video, VideoReader(path) as reader:
            start = time.perf_counter()
            count = sum(1 for i, frame in enumerate(reader)
                        if video.analyze_for_video(frame, i * 1000 / reader.fps) is not None)
            elapsed = time.perf_counter() - start
    print(f"video: {count} frames of 640x480 (decode, detect, track, classify) at {count / elapsed:.1f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", nargs="*", default=[], choices=sorted(DETECTORS),
                        help="also time these detectors per frame, taking turns with --detector")
    parser.add_argument("--model", type=Path, default=None, help="emotion model (default: the bundled one)")
    parser.add_argument("--compare-models", nargs="*", type=Path, default=[],
                        help="also time these emotion models per frame, taking turns with --model")
    args = parser.parse_args()
    options = AnalyzerOptions(detector=args.detector, tta=args.tta, model_path=args.model)
    analyzer = Analyzer.create_from_options(options)
    print(f"detector {analyzer.detector_name}, model {analyzer.model_name}, tta {args.tta}")
    frames = one_face_frames()
    others = [Analyzer.create_from_options(dataclasses.replace(options, detector=name)) for name in args.compare]
    others += [Analyzer.create_from_options(dataclasses.replace(options, model_path=path))
               for path in args.compare_models]
    frame_latency([analyzer] + others, frames, args.repeats)
    video_fps(dataclasses.replace(options, running_mode=RunningMode.VIDEO), frames)
    folder_throughput(analyzer)


if __name__ == "__main__":
    main()
