"""What the class balance of a model's calibration trades: for each ``emolens calibrate --class-balance`` value,
the logit bias fitted on publictest under the robustness shifts, then privatetest accuracy and balanced accuracy
(mean per-class recall) against the FER+ majority votes and against the original FER2013 labels (no TTA).

    python benchmarks/class_balance.py runs/v2.onnx [--balances 0 0.25 0.5 0.75 1]

Give the exported, uncalibrated model: the bias is fitted here as `emolens calibrate` fits it. The temperature is
left out: it never changes the top emotion.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.metrics import balanced_accuracy_score

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration
from emolens.evaluation.calibration import fit_logit_bias
from emolens.evaluation.robustness import probabilities_under_shifts

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--balances", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    val = load_dataset(args.data, "val", label_mode="majority", label_names=classifier.labels)
    fitting = list(probabilities_under_shifts(classifier, val.images, calibrated=False).values())
    tests = {name: load_dataset(args.data, "test", label_mode=name, label_names=classifier.labels)
             for name in ("majority", "fer2013")}
    raw = {name: classifier.predict_proba(data.images, calibrated=False) for name, data in tests.items()}
    print(f"model: {classifier.model_path}; privatetest, no TTA; bias fitted on publictest under the shifts\n")
    print("| class balance | FER+ accuracy | FER+ balanced | FER2013-label accuracy | FER2013-label balanced | bias |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    for balance in args.balances:
        bias = fit_logit_bias(fitting, val.labels, balance)
        cells = []
        for name, data in tests.items():
            predicted = Calibration(1.0, bias).apply(raw[name]).argmax(axis=1)
            cells += [f"{(predicted == data.labels).mean():.4f}", f"{balanced_accuracy_score(data.labels, predicted):.4f}"]
        shown = ", ".join(f"{label} {b:+.2f}" for label, b in zip(classifier.labels, bias))
        print(f"| {balance:g} | {' | '.join(cells)} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
