"""The `fer` PyPI package's side of compare_fer.py. Runs in fer's own venv (it needs TensorFlow), never in
emolens's: reads frames and crops from an .npz, prints JSON with its timings and predictions.

    /tmp/fer-venv/bin/python benchmarks/fer_worker.py INPUT.npz [--serve]
"""

from __future__ import annotations

import json
import sys
import time

import cv2
import numpy as np
from fer.fer import FER


def serve(frames: np.ndarray, fer: FER) -> None:
    """Take turns with emolens frame by frame (benchmarks/latency.py --compare-fer): read a frame index per line
    on stdin, answer the milliseconds of one ``detect_emotions`` (wall, then CPU of the process: its OpenCV and
    TensorFlow threads included) and the faces found, as one line."""
    for frame in frames[:3]:
        fer.detect_emotions(frame)  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        start, cpu = time.perf_counter(), time.process_time()
        found = fer.detect_emotions(frames[int(line)])
        print(f"{(time.perf_counter() - start) * 1000} {(time.process_time() - cpu) * 1000} {len(found)}", flush=True)


def main() -> None:
    data = np.load(sys.argv[1])
    fer = FER()  # its defaults: OpenCV Haar cascade, quantized TFLite mini-Xception on 64x64 grey crops
    if "--serve" in sys.argv:
        serve(data["frames"], fer)
        return
    frames, crops = data["frames"], data["crops"]
    for frame in frames[:3]:
        fer.detect_emotions(frame)  # warm-up
    frame_ms, faces = [], []
    for frame in frames:
        start = time.perf_counter()
        found = fer.detect_emotions(frame)
        frame_ms.append((time.perf_counter() - start) * 1000)
        faces.append(len(found))
    labels = list(fer._get_labels().values())
    start = time.perf_counter()
    # its own crop path: square crops resized to the model input, scaled to [-1, 1]
    x = np.stack([cv2.resize(c, (64, 64)) for c in crops]).astype(np.float32) / 255.0
    probs = np.asarray(fer._classify_emotions((x - 0.5) * 2.0))
    crop_ms = (time.perf_counter() - start) * 1000 / len(crops)
    print(json.dumps({"frame_ms": frame_ms, "faces": faces, "crop_ms": crop_ms,
                      "predictions": [labels[i] for i in probs.argmax(axis=1)]}))


if __name__ == "__main__":
    main()
