"""emolens against the `fer` PyPI package on the same inputs: latency on real 640x480 one-face frames (and faces
found), and accuracy and per-crop time on all FER2013 privatetest crops. Prints ours, theirs and our/their ratio.
Accuracy is given against the original FER2013 labels and against the FER+ majority vote (crops whose majority is
one of the seven FER2013 classes; the two label sets agree on only ~63% of images).

fer needs TensorFlow, so it runs in its own venv through fer_worker.py:

    python -m venv /tmp/fer-venv && /tmp/fer-venv/bin/pip install fer
    python benchmarks/compare_fer.py [--fer-python /tmp/fer-venv/bin/python]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import FER, median_p90, one_face_frames

from emolens import Analyzer
from emolens.labels import FERPLUS_TO_FER2013


def ferplus_majority() -> dict[str, str]:
    """privatetest path -> FER+ majority label (FER2013 names), where the majority is a FER2013 class."""
    votes = [f"fp_{name}" for name in FERPLUS_TO_FER2013]
    with (FER / "labels.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["usage"] == "PrivateTest" and r["ferplus_image_name"]]
    majority = {}
    for row in rows:
        counts = [int(row[v]) for v in votes]
        others = sum(int(row[f"fp_{k}"]) for k in ("contempt", "unknown", "NF"))
        if max(counts) > others:
            majority[row["path"]] = list(FERPLUS_TO_FER2013.values())[counts.index(max(counts))]
    return majority


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer-python", default="/tmp/fer-venv/bin/python")
    args = parser.parse_args()
    frames = one_face_frames()
    paths = sorted((FER / "privatetest").glob("*/*.png"))
    truth = [p.parent.name for p in paths]
    crops = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "inputs.npz"
        np.savez(npz, frames=np.stack(frames), crops=crops)
        worker = Path(__file__).with_name("fer_worker.py")
        out = subprocess.run([args.fer_python, str(worker), str(npz)], check=True, capture_output=True, text=True)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])

    analyzer = Analyzer()
    for frame in frames[:3]:
        analyzer.analyze(frame)
    frame_ms, faces = [], []
    for frame in frames:
        start = time.perf_counter()
        faces.append(len(analyzer.analyze(frame)))
        frame_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    probs = analyzer.predict_proba(list(crops))
    crop_ms = (time.perf_counter() - start) * 1000 / len(crops)
    ours_pred = [analyzer.labels[i] for i in probs.argmax(axis=1)]

    majority = ferplus_majority()
    rel = [str(p.relative_to(FER)) for p in paths]

    def accuracy(pred: list[str]) -> float:
        return float(np.mean([p == t for p, t in zip(pred, truth, strict=True)]))

    def ferplus_accuracy(pred: list[str]) -> float:
        return float(np.mean([p == majority[r] for p, r in zip(pred, rel, strict=True) if r in majority]))

    def found(counts: list[int]) -> str:
        extra = sum(max(0, c - 1) for c in counts)
        return f"{sum(c >= 1 for c in counts)}/{len(counts)} frames with a face, {extra} extra"

    ours_med, their_med = statistics.median(frame_ms), statistics.median(theirs["frame_ms"])
    print(f"640x480 one-face frames ({len(frames)}):")
    print(f"  emolens ({analyzer.detector_name}): {median_p90(frame_ms)}; {found(faces)}")
    print(f"  fer (haar + mini-Xception):  {median_p90(theirs['frame_ms'])}; {found(theirs['faces'])}")
    print(f"  median latency ratio ours/theirs: {ours_med / their_med:.2f}")
    ours_acc, their_acc = accuracy(ours_pred), accuracy(theirs["predictions"])
    print(f"FER2013 privatetest crops ({len(paths)}), model {analyzer.model_name}:")
    print(f"  emolens accuracy {ours_acc:.4f}, {crop_ms:.3f} ms/crop (batched)")
    print(f"  fer     accuracy {their_acc:.4f}, {theirs['crop_ms']:.3f} ms/crop (its TFLite loop)")
    print(f"  accuracy ratio ours/theirs: {ours_acc / their_acc:.2f}; time ratio: {crop_ms / theirs['crop_ms']:.2f}")
    ours_fp, their_fp = ferplus_accuracy(ours_pred), ferplus_accuracy(theirs["predictions"])
    print(f"  against the FER+ majority ({sum(r in majority for r in rel)} crops): emolens {ours_fp:.4f}, "
          f"fer {their_fp:.4f}, ratio {ours_fp / their_fp:.2f}")


if __name__ == "__main__":
    main()
