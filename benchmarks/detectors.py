"""Face detectors on the real photos: faces found on the multi-face photos (recall), misses and extra boxes
(false positives) on the single-face photos, and milliseconds per image (full-size photos and 640x480 frames).

    python benchmarks/detectors.py [--detectors haar blazeface blazeface-short]

Counts come from face_photos/labels.csv (no boxes there), so "recall" is min(found, expected) / expected.
"""

from __future__ import annotations

import argparse
import time

import cv2
from common import frame_640x480, median_p90, photo_face_counts

from emolens.faces import DETECTORS, create_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=sorted(DETECTORS))
    args = parser.parse_args()
    counts = photo_face_counts()
    images = {p: cv2.imread(str(p)) for p in sorted(counts)}
    for name in args.detectors:
        detector = create_detector(name)
        detector.detect(frame_640x480(images[next(iter(images))]))  # warm-up
        multi_found = multi_expected = missed = extra = 0
        photo_ms: list[float] = []
        frame_ms: list[float] = []
        for path, image in images.items():
            start = time.perf_counter()
            found = len(detector.detect(image))
            photo_ms.append((time.perf_counter() - start) * 1000)
            expected = counts[path]
            if expected > 1:
                multi_found += min(found, expected)
                multi_expected += expected
                print(f"  {name:16s} {path.name}: {found} of {expected}")
            else:
                missed += found == 0
                extra += max(0, found - 1)
                frame = frame_640x480(image)
                start = time.perf_counter()
                detector.detect(frame)
                frame_ms.append((time.perf_counter() - start) * 1000)
        singles = sum(1 for n in counts.values() if n == 1)
        print(f"{name:16s} multi-face recall {multi_found}/{multi_expected} = {multi_found / multi_expected:.2f}; "
              f"single-face photos: {missed}/{singles} missed, {extra} extra boxes; "
              f"photo {median_p90(photo_ms)}; 640x480 {median_p90(frame_ms)}")


if __name__ == "__main__":
    main()
