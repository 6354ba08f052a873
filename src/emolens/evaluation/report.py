"""Evaluation reports: the JSON summary, a normalised confusion-matrix PNG and a per-class Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def per_class_markdown(summary: dict[str, Any]) -> str:
    """The per-class table (precision, recall, F1, support) with overall accuracy and macro F1 below it."""
    lines = ["| class | precision | recall | f1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, m in summary["per_class"].items():
        lines.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    lines.append("")
    lines.append(f"Accuracy {summary['accuracy']:.4f}, macro F1 {summary['macro_f1']:.4f}, n = {summary['n']}.")
    return "\n".join(lines) + "\n"


def save_confusion_matrix(summary: dict[str, Any], path: Path, title: str = "Confusion matrix") -> None:
    """Row-normalised confusion matrix (each true class sums to 1) as a heat map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = list(summary["per_class"])
    counts = np.asarray(summary["confusion"], dtype=np.float64)
    normalised = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    shown = ConfusionMatrixDisplay(normalised, display_labels=labels).plot(
        ax=ax, cmap="Blues", values_format=".2f", im_kw={"vmin": 0, "vmax": 1})
    shown.im_.colorbar.set_label("fraction of true class")
    ax.set(xlabel="predicted", ylabel="true", title=f"{title} (accuracy {summary['accuracy']:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(summary: dict[str, Any], out_dir: str | Path, title: str = "Confusion matrix") -> None:
    """Write ``summary.json``, ``confusion_matrix.png`` and ``per_class.md`` into ``out_dir``; with a
    ``present_labels`` part, also ``confusion_matrix_present_labels.png`` and a second table in ``per_class.md``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    save_confusion_matrix(summary, out_dir / "confusion_matrix.png", title)
    tables = "## All the model's labels\n\n" + per_class_markdown(summary)
    present = summary.get("present_labels")
    if present is not None:
        save_confusion_matrix(present, out_dir / "confusion_matrix_present_labels.png", f"{title}, present labels")
        tables += "\n## Predictions restricted to the labels present in the data\n\n" + per_class_markdown(present)
    (out_dir / "per_class.md").write_text(tables)
