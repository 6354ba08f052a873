"""Measure the crop margin that makes our face crops framed like FER2013's.

Each FER2013 privatetest face (48x48, tightly registered) is upscaled and padded with grey, and the detector is run
on it. With the detector's box side ``s`` (the larger of width and height, in FER pixels) the training frame is
``48 = s * (1 + 2 * margin)``, so ``margin = (48 / s - 1) / 2``. Prints the median margin (the value for
``Preprocessing.crop_margin`` in the exported model), its spread, the detection rate and how far the box centre
sits from the frame centre.

    python benchmarks/crop_margin.py [--detector blazeface] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics

import cv2
import numpy as np
from common import FER

from emolens.faces import DEFAULT_DETECTOR, DETECTORS, create_detector

UPSCALE = 4
PAD = 96


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    parser.add_argument("--min-score", type=float, default=None, help="Detector threshold (default: its own).")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N images (default: all).")
    args = parser.parse_args()
    detector = create_detector(args.detector, **({"min_score": args.min_score} if args.min_score else {}))
    paths = sorted((FER / "privatetest").glob("*/*.png"))[:args.limit]
    margins, dx, dy = [], [], []
    for path in paths:
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(face, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=128)
        found = detector.detect(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
        if not found:
            continue
        x, y, w, h = found[0].box
        side = max(w, h) / UPSCALE
        margins.append((48 / side - 1) / 2)
        dx.append(((x + w / 2 - PAD) / UPSCALE - 24) / side)
        dy.append(((y + h / 2 - PAD) / UPSCALE - 24) / side)
    q = np.percentile(margins, [10, 25, 75, 90])
    print(f"{args.detector}: faces found in {len(margins)}/{len(paths)} FER2013 privatetest images")
    print(f"box centre offset from frame centre, in box sides: dx median {statistics.median(dx):+.3f}, "
          f"dy median {statistics.median(dy):+.3f}")
    print(f"margin percentiles 10/25/75/90: {q[0]:.3f} {q[1]:.3f} {q[2]:.3f} {q[3]:.3f}")
    print(f"crop_margin = {statistics.median(margins):.3f}")


if __name__ == "__main__":
    main()
