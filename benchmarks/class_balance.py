"""What the class balance of a model's calibration trades. For each class balance (``emolens calibrate
--class-balance``): privatetest accuracy and balanced accuracy (mean per-class recall) against the FER+ majority
votes and against the original FER2013 labels, the expected calibration error of the scores, FER+ accuracy,
balanced accuracy and the largest predicted/true class ratio under the shifts (no TTA); then, per class, its
recall and how often it is predicted, against each labelling.

    python benchmarks/class_balance.py MODEL [--balances 0 0.25 0.5 0.75 1] [--split val|test] [--max-ratio R]
        [--no-shifts]

A model that stores class balances (``emolens calibrate --class-balances``, the bundled one) is scored with what
it stores (a balance between two stored points interpolated as the runtime does); ``--balances`` defaults to its
stored points. Any other model is calibrated here as ``emolens calibrate`` would: bias and temperature fitted on
publictest under the robustness shifts (give the exported, uncalibrated model).

``--split val`` scores publictest itself (where the bias is fitted: optimistic, but the same for every model), for
choosing between models without looking at privatetest.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import numpy as np
from common import FER
from sklearn.metrics import balanced_accuracy_score, recall_score

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.metadata import Calibration
from emolens.evaluation.calibration import expected_calibration_error
from emolens.evaluation.robustness import prediction_ratios, probabilities_under_shifts
from emolens.training.calibrate import fit_calibration

DEFAULT_BALANCES = [0.0, 0.25, 0.5, 0.75, 1.0]


def shift_cells(shifted: dict[str, np.ndarray], labels: np.ndarray, bias: tuple[float, ...]) -> list[str]:
    """Mean accuracy and balanced accuracy over the shifts (clean left out), and the largest predicted/true ratio
    of any class under any shift (clean included), with the bias applied."""
    calibration = Calibration(1.0, bias)
    predicted = {name: calibration.apply(p).argmax(axis=1) for name, p in shifted.items()}
    shifts = [name for name in predicted if name != "clean"]
    ratio = max(prediction_ratios(labels, y, len(bias)).max() for y in predicted.values())
    return [f"{np.mean([(predicted[n] == labels).mean() for n in shifts]):.4f}",
            f"{np.mean([balanced_accuracy_score(labels, predicted[n]) for n in shifts]):.4f}", f"{ratio:.2f}"]


def calibrations(classifier: EmotionClassifier, args: argparse.Namespace) -> tuple[dict[float, Calibration], str]:
    """The calibration of each class balance asked for (see the module docs), and where it comes from."""
    stored = classifier.model_info.calibration
    if stored.points:
        balances = args.balances or [p.class_balance for p in stored.points]
        return {b: stored.at(b) for b in balances}, "the calibration stored in the model"
    val = load_dataset(args.data, "val", label_mode="majority", label_names=classifier.labels)
    fitting = probabilities_under_shifts(classifier, val.images, calibrated=False)
    cap = "" if args.max_ratio is None else f", no class predicted over {args.max_ratio:g}x its frequency"
    return ({b: fit_calibration(fitting, val.label_ids, b, args.max_ratio) for b in args.balances or DEFAULT_BALANCES},
            f"bias and temperature fitted on publictest under the shifts{cap}")


def per_class_table(name: str, labels: tuple[str, ...], truth: np.ndarray, raw: np.ndarray,
                    fitted: dict[float, Calibration]) -> None:
    """Each class's recall, and its share of the predictions (its share of the faces in the last row)."""
    print(f"\n{name}: recall, and share of the faces predicted as the class\n")
    print(f"| class balance | {' | '.join(labels)} |")
    print(f"| ---: |{' ---: |' * len(labels)}")
    classes = np.arange(len(labels))
    for balance, calibration in fitted.items():
        predicted = calibration.apply(raw).argmax(axis=1)
        recall = recall_score(truth, predicted, labels=classes, average=None, zero_division=0)
        share = np.bincount(predicted, minlength=len(labels)) / len(predicted)
        print(f"| {balance:g} | {' | '.join(f'{r:.3f} ({s:.1%})' for r, s in zip(recall, share, strict=True))} |")
    truth_share = np.bincount(truth, minlength=len(labels)) / len(truth)
    print(f"| (true share) | {' | '.join(f'{s:.1%}' for s in truth_share)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=FER)
    parser.add_argument("--balances", type=float, nargs="+", default=None,
                        help=f"default: the model's stored ones, else {DEFAULT_BALANCES}")
    parser.add_argument("--split", choices=("val", "test"), default="test", help="the split scored")
    parser.add_argument("--max-ratio", type=float, default=None, help="as emolens calibrate --max-ratio")
    parser.add_argument("--no-shifts", dest="shifts", action="store_false", help="leave out the shift columns")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    fitted, origin = calibrations(classifier, args)
    tests = {name: load_dataset(args.data, args.split, label_mode=name, label_names=classifier.labels)
             for name in ("majority", "fer2013")}
    raw = {name: classifier.predict_proba(data.images, calibrated=False) for name, data in tests.items()}
    shifted: Optional[dict[str, np.ndarray]] = probabilities_under_shifts(
        classifier, tests["majority"].images, calibrated=False) if args.shifts else None
    scored = "privatetest" if args.split == "test" else "publictest"
    print(f"model: {classifier.model_path}; {scored}, no TTA; {origin}\n")
    print("| class balance | FER+ accuracy | FER+ balanced | FER2013-label accuracy | FER2013-label balanced "
          "| FER+ ECE |" + (" FER+ mean over shifts | FER+ balanced over shifts | largest p/t ratio |" if shifted
                            else "") + " bias | T |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if shifted else "")
          + " --- | ---: |")
    for balance, calibration in fitted.items():
        cells = []
        for name, data in tests.items():
            predicted = calibration.apply(raw[name]).argmax(axis=1)
            cells += [f"{(predicted == data.label_ids).mean():.4f}",
                      f"{balanced_accuracy_score(data.label_ids, predicted):.4f}"]
        ece = expected_calibration_error(calibration.apply(raw["majority"]), tests["majority"].label_ids)
        cells.append(f"{ece:.4f}")
        cells += shift_cells(shifted, tests["majority"].label_ids, calibration.logit_bias) if shifted else []
        shown = ", ".join(f"{label} {b:+.2f}"
                          for label, b in zip(classifier.labels, calibration.logit_bias, strict=False))
        print(f"| {balance:g} | {' | '.join(cells)} | {shown} | {calibration.temperature:.3f} |", flush=True)
    for name, title in (("majority", "FER+ majority votes"), ("fer2013", "original FER2013 labels")):
        per_class_table(f"{scored}, {title}", classifier.labels, tests[name].label_ids, raw[name], fitted)


if __name__ == "__main__":
    main()
