"""Robustness of an emotion model: FER+ accuracy under the shifts that real photos bring (sharper and softer
detail, other framings, rotation, JPEG, noise, lighting, occlusion; see emolens/evaluation/shifts.py), the mean
over shifts, and how often each class is predicted compared with how often it occurs.

    python benchmarks/robustness.py [--model PATH] [--split val|test] [--tta] [--source-size N] [--json OUT]

Choose recipes on ``--split val`` (publictest); report ``--split test`` (privatetest) in the model card.
``--source-size`` overrides the model's stored value (0 = off) to measure what that preprocessing step buys.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from common import FER

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.evaluation.calibration import expected_calibration_error
from emolens.evaluation.robustness import probabilities_under_shifts, robustness_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=FER)
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--tta", action="store_true")
    parser.add_argument("--source-size", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the full summary here")
    args = parser.parse_args()

    classifier = EmotionClassifier(args.model, threads=2)
    if args.source_size is not None:  # a what-if on the preprocessing; the model file is not changed
        prep = dataclasses.replace(classifier.preprocessing, source_size=args.source_size)
        classifier.model_info = dataclasses.replace(classifier.model_info, preprocessing=prep)
    data = load_dataset(args.data, args.split, label_mode="majority", label_names=classifier.labels)
    started = time.perf_counter()
    raw = probabilities_under_shifts(classifier, data.images, tta=args.tta, calibrated=False)
    probs = {name: classifier.model_info.calibration.apply(p) for name, p in raw.items()}
    summary = robustness_summary(probs, data.label_ids, classifier.labels)
    summary["ece_clean"] = expected_calibration_error(probs["clean"], data.label_ids)
    summary["ece_clean_uncalibrated"] = expected_calibration_error(raw["clean"], data.label_ids)
    labels = classifier.labels

    print(f"model: {classifier.model_path} {json.dumps(classifier.model_info.info, sort_keys=True)}")
    print(f"split {args.split} (FER+ majority, n={len(data)}), TTA {'on' if args.tta else 'off'}, "
          f"preprocessing {classifier.preprocessing}, calibration {classifier.model_info.calibration}\n")
    print("| shift | accuracy | balanced | macro F1 | " + " | ".join(f"{label} p/t" for label in labels) + " |")
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(labels))
    for name, row in summary["shifts"].items():
        ratios = " | ".join(f"{row['ratios'][label]:.2f}" for label in labels)
        print(f"| {name} | {row['accuracy']:.4f} | {row['balanced_accuracy']:.4f} | {row['macro_f1']:.4f} | {ratios} |")
    clean = summary["shifts"]["clean"]["accuracy"]
    worst = summary["max_ratio"]
    print(f"\nclean accuracy {clean:.4f}; mean over shifts {summary['mean_shifted_accuracy']:.4f} "
          f"({summary['mean_shifted_accuracy'] - clean:+.4f}); balanced accuracy clean "
          f"{summary['shifts']['clean']['balanced_accuracy']:.4f}, mean over shifts "
          f"{summary['mean_shifted_balanced_accuracy']:.4f}; largest predicted/true ratio {worst['ratio']:.2f} "
          f"({worst['label']} under {worst['shift']}); ECE (clean) {summary['ece_clean']:.4f} calibrated, "
          f"{summary['ece_clean_uncalibrated']:.4f} uncalibrated; "
          f"{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"split": args.split, "tta": args.tta, "n": len(data),
                                         "mean_ratio_by_class": {
                                             label: float(np.mean([r["ratios"][label]
                                                                   for r in summary["shifts"].values()]))
                                             for label in labels}, **summary}, indent=2))


if __name__ == "__main__":
    main()
