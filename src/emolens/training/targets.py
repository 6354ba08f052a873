"""What the network learns towards: label distributions (FER+ votes, optionally blended with the original FER2013
labels), class weights, and the class-weighted soft-label cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from emolens.datasets import FaceDataset
from emolens.errors import ConfigError, DatasetError
from emolens.training.config import TrainConfig


def targets_of(dataset: FaceDataset) -> np.ndarray:
    """Label distributions: the soft labels if any, else one-hot."""
    if dataset.soft_labels is not None:
        return dataset.soft_labels.astype(np.float32)
    return np.eye(len(dataset.label_names), dtype=np.float32)[dataset.label_ids]


def blend_labels(dataset: FaceDataset, weight: float) -> np.ndarray:
    """``dataset``'s label distributions with ``weight`` of each moved to the face's original label (e.g. FER+
    votes blended with the original FER2013 labels of the same faces)."""
    if dataset.original_label_ids is None:
        raise DatasetError("blending in original labels needs a FER+ source (FER2013 faces with FER+ votes), whose "
                           "faces carry their original FER2013 labels")
    one_hot = np.eye(len(dataset.label_names), dtype=np.float32)[dataset.original_label_ids]
    return (1 - weight) * targets_of(dataset) + weight * one_hot


def class_weights(labels: np.ndarray, num_classes: int, config: TrainConfig) -> torch.Tensor:
    """Balanced class weights (n / (C * count)), raised to ``class_weight_power``; ones for ``none``."""
    if config.class_weighting == "none":
        return torch.ones(num_classes)
    if config.class_weighting != "balanced":
        raise ConfigError(f"class_weighting must be 'balanced' or 'none', not {config.class_weighting!r}")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = len(labels) / (num_classes * np.maximum(counts, 1))
    return torch.tensor(weights ** config.class_weight_power, dtype=torch.float32)


def weighted_soft_ce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                     smoothing: float) -> torch.Tensor:
    """Cross-entropy against (smoothed) label distributions, each sample weighted by its class weight."""
    num_classes = logits.shape[1]
    targets = targets * (1 - smoothing) + smoothing / num_classes
    per_sample = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    sample_weights = (targets * weights).sum(dim=1)
    return (per_sample * sample_weights).sum() / sample_weights.sum()
