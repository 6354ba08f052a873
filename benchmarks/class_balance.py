"""What the class balance of a model's calibration trades: for each ``emolens calibrate --class-balance`` value,
the logit bias fitted on publictest under the robustness shifts, then privatetest accuracy and balanced accuracy
(mean per-class recall) against the FER+ majority votes and against the original FER2013 labels, and FER+
accuracy, balanced accuracy and the largest predicted/true class ratio under the shifts (no TTA).

    python benchmarks/class_balance.py runs/v2.onnx [--balances 0 0.25 0.5 0.75 1] [--split val|test] [--max-ratio R]

``--split val`` scores publictest itself (where the bias is fitted: optimistic, but the same for every model), for
choosing between models without looking at privatetest.

Give the exported, uncalibrated model: the bias is fitted here as `emolens calibrate` fits it. The temperature is
left out: it never changes the top emotion.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration
from emolens.evaluation.calibration import fit_logit_bias
from emolens.evaluation.robustness import prediction_ratios, probabilities_under_shifts

REPO = Path(__file__).resolve().parents[1]


def shift_cells(shifted: dict[str, np.ndarray], labels: np.ndarray, bias: tuple[float, ...]) -> list[str]:
    """Mean accuracy and balanced accuracy over the shifts (clean left out), and the largest predicted/true ratio
    of any class under any shift (clean included), with the bias applied."""
    calibration = Calibration(1.0, bias)
    predicted = {name: calibration.apply(p).argmax(axis=1) for name, p in shifted.items()}
    shifts = [name for name in predicted if name != "clean"]
    ratio = max(prediction_ratios(labels, y, len(bias)).max() for y in predicted.values())
    return [f"{np.mean([(predicted[n] == labels).mean() for n in shifts]):.4f}",
            f"{np.mean([balanced_accuracy_score(labels, predicted[n]) for n in shifts]):.4f}", f"{ratio:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--balances", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--split", choices=("val", "test"), default="test", help="the split scored")
    parser.add_argument("--max-ratio", type=float, default=None, help="as emolens calibrate --max-ratio")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    val = load_dataset(args.data, "val", label_mode="majority", label_names=classifier.labels)
    fitting = probabilities_under_shifts(classifier, val.images, calibrated=False)
    tests = {name: load_dataset(args.data, args.split, label_mode=name, label_names=classifier.labels)
             for name in ("majority", "fer2013")}
    raw = {name: classifier.predict_proba(data.images, calibrated=False) for name, data in tests.items()}
    shifted = fitting if args.split == "val" else probabilities_under_shifts(
        classifier, tests["majority"].images, calibrated=False)
    scored = "privatetest" if args.split == "test" else "publictest"
    cap = "" if args.max_ratio is None else f", no class predicted over {args.max_ratio:g}x its frequency"
    print(f"model: {classifier.model_path}; {scored}, no TTA; bias fitted on publictest under the shifts{cap}\n")
    print("| class balance | FER+ accuracy | FER+ balanced | FER2013-label accuracy | FER2013-label balanced "
          "| FER+ mean over shifts | FER+ balanced over shifts | largest p/t ratio | bias |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for balance in args.balances:
        bias = fit_logit_bias(list(fitting.values()), val.labels, balance, args.max_ratio)
        cells = []
        for name, data in tests.items():
            predicted = Calibration(1.0, bias).apply(raw[name]).argmax(axis=1)
            cells += [f"{(predicted == data.labels).mean():.4f}", f"{balanced_accuracy_score(data.labels, predicted):.4f}"]
        cells += shift_cells(shifted, tests["majority"].labels, bias)
        shown = ", ".join(f"{label} {b:+.2f}" for label, b in zip(classifier.labels, bias))
        print(f"| {balance:g} | {' | '.join(cells)} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
