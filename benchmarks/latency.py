"""Speed of the whole pipeline on real images: per-frame latency on 640x480 one-face frames (detect, crop and
classify, total; median and p90), throughput on the photo folder (decode included), and video frames/s.

    python benchmarks/latency.py [--detector blazeface-multi] [--tta] [--compare blazeface ...]

Targets: median total <= 8 ms per 640x480 one-face frame; video >= 60 frames/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from common import PHOTOS, median_p90, one_face_frames
from emolens import Analyzer
from emolens.faces import DEFAULT_DETECTOR, DETECTORS
from emolens.pipeline.video import VideoAnalyzer, VideoReader


def frame_latency(analyzers: list[Analyzer], frames: list, repeats: int) -> None:
    """Detect, crop + classify and total per frame; several analyzers take turns frame by frame, so that a busy
    machine slows them alike."""
    times = [([], [], []) for _ in analyzers]
    for analyzer in analyzers:
        for frame in frames[:3]:
            analyzer.analyze(frame)  # warm-up
    for _ in range(repeats):
        for frame in frames:
            for analyzer, (detect_ms, classify_ms, total_ms) in zip(analyzers, times):
                start = time.perf_counter()
                detections = analyzer.detector.detect(frame)
                detected = time.perf_counter()
                analyzer.classify(analyzer.crop(frame, detections))
                done = time.perf_counter()
                detect_ms.append((detected - start) * 1000)
                classify_ms.append((done - detected) * 1000)
                total_ms.append((done - start) * 1000)
    for analyzer, (detect_ms, classify_ms, total_ms) in zip(analyzers, times):
        print(f"640x480 one-face frames ({len(frames)} frames x {repeats}), detector {analyzer.detector_name}:")
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


def video_fps(analyzer: Analyzer, frames: list, seconds: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        for i in range(30 * seconds):
            writer.write(frames[(i // 15) % len(frames)])
        writer.release()
        video = VideoAnalyzer(analyzer)
        reader = VideoReader(path)
        start = time.perf_counter()
        count = sum(1 for i, frame in enumerate(reader) if video.process(frame, i / reader.fps) is not None)
        elapsed = time.perf_counter() - start
    print(f"video: {count} frames of 640x480 (decode, detect, track, classify) at {count / elapsed:.1f} frames/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare", nargs="*", default=[], choices=sorted(DETECTORS),
                        help="also time these detectors per frame, taking turns with --detector")
    args = parser.parse_args()
    analyzer = Analyzer(detector=args.detector, tta=args.tta)
    print(f"detector {analyzer.detector_name}, model {analyzer.classifier.model_path.name}, tta {args.tta}")
    frames = one_face_frames()
    frame_latency([analyzer] + [Analyzer(detector=name, tta=args.tta) for name in args.compare], frames,
                  args.repeats)
    video_fps(analyzer, frames)
    folder_throughput(analyzer)


if __name__ == "__main__":
    main()
