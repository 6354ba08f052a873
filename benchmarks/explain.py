"""Cost and meaning of "why this emotion?" (occlusion sensitivity, emolens.emotion.explain) on real faces.

    python benchmarks/explain.py [--threads 1] [--faces 240] [--cells 5]

Prints the cost per face of an explanation (one face per call, as for a photo with one face; and 4 faces per
call), with the bundled model, then the deletion check on privatetest faces: hiding the most salient 20% of
each crop against hiding a random 20% region.
Targets: <= 30 ms per face on 2 cores; salient drop clearly above the random drop.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import FER, median_p90

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.explain import CELLS, explain_crops
from emolens.evaluation.explanations import deletion_check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (the Analyzer's default: 1)")
    parser.add_argument("--faces", type=int, default=240, help="privatetest faces for the deletion check")
    parser.add_argument("--cells", type=int, default=CELLS, help="grid side (the patch covers 2x2 cells)")
    args = parser.parse_args()
    classifier = EmotionClassifier(threads=args.threads)
    data = load_dataset(FER / "privatetest")
    crops = [data.images[i] for i in np.random.default_rng(0).choice(len(data), args.faces, replace=False)]
    print(f"model: input {classifier.preprocessing.input_size} px, {args.threads} ONNX Runtime thread(s), "
          f"{args.cells}x{args.cells} cells")
    for per_call in (1, 4):
        explain_crops(classifier, crops[:per_call], cells=args.cells)  # warm-up
        ms = []
        for start in range(0, min(100, len(crops)) - per_call + 1, per_call):
            began = time.perf_counter()
            explain_crops(classifier, crops[start:start + per_call], cells=args.cells)
            ms.append((time.perf_counter() - began) * 1000 / per_call)
        print(f"explanation, {per_call} face(s) per call: per face {median_p90(ms)}")
    result = deletion_check(classifier, crops, cells=args.cells)
    print(f"deletion check on {result['n']} privatetest faces, hiding {result['fraction']:.0%} of each crop: "
          f"salient drop {result['salient_drop']:.3f}, random drop {result['random_drop']:.3f}, "
          f"margin {result['margin']:.3f}")


if __name__ == "__main__":
    main()
