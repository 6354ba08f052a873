"""Accuracy of an emotion model on FER2013 privatetest, whole crops: FER+ majority and original FER2013 labels,
with and without TTA. Prints a Markdown table and writes a report (JSON, confusion PNG, per-class table) per case.

    python benchmarks/model_accuracy.py [--model PATH] [--data ../shared/data/fer2013] [--out DIR]

With no --out, the reports go beside the bundled model (src/emolens/models/card/), which its model card cites.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import FER, REPO

from emolens import Analyzer
from emolens.datasets import load_dataset
from emolens.evaluation.evaluate import evaluate
from emolens.evaluation.report import write_report

CASES = [("ferplus", "majority", True), ("ferplus", "majority", False), ("fer2013", "fer2013", True),
         ("fer2013", "fer2013", False)]


def label_agreement(data: Path) -> float:
    """FER2013 accuracy of a perfect FER+ predictor on privatetest: the most-voted FER+ emotion of each image
    scored against its original label. No model trained on FER+ labels can expect much more."""
    original = load_dataset(data, "test", label_mode="fer2013")
    votes = load_dataset(data, "test", label_mode="soft")
    by_source = dict(zip(original.sources, original.label_ids, strict=True))
    agree = sum(int(by_source[s] == label) for s, label in zip(votes.sources, votes.label_ids, strict=True))
    return agree / len(original)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=FER)
    parser.add_argument("--out", type=Path, default=REPO / "src" / "emolens" / "models" / "card")
    args = parser.parse_args()
    analyzer = Analyzer(args.model, threads=0)  # ONNX Runtime picks (up to 4), as for a plain classifier
    print(f"model: {analyzer.model_path} {json.dumps(analyzer.model_info.info, sort_keys=True)}")
    print("| labels | TTA | n | accuracy | balanced accuracy | macro F1 |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, label_mode, tta in CASES:
        summary = evaluate(args.data, analyzer, split="test", label_mode=label_mode, tta=tta)
        case = f"{name}_{'tta' if tta else 'no_tta'}"
        write_report(summary, args.out / case, title=f"privatetest, {name} labels, TTA {'on' if tta else 'off'}")
        print(f"| {name} | {'on' if tta else 'off'} | {summary['n']} | {summary['accuracy']:.4f} | "
              f"{summary['balanced_accuracy']:.4f} | {summary['macro_f1']:.4f} |", flush=True)
    print(f"FER2013-label accuracy of a perfect FER+ predictor (label agreement): {label_agreement(args.data):.4f}")


if __name__ == "__main__":
    main()
