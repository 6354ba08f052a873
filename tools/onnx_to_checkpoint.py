"""Recover a trainable checkpoint from an exported emolens ONNX model, once, to fine-tune it further.

The exporter folds each backbone BatchNorm into the convolution before it, so the ONNX file holds fused
weights W and biases b. This script loads them into a fresh :class:`~emolens.training.model.EmotionNet` and
rebuilds each folded BatchNorm from data: one pass over training faces measures the mean m and variance v of
every convolution's output z = W*x; the BatchNorm then gets running statistics (m, v), scale sqrt(v + eps) and
shift m + b. In eval mode that is exactly z + b (the ONNX model's arithmetic); in train mode the batch
statistics are close to (m, v), so fine-tuning starts from the exported model instead of from a broken one.

    python tools/onnx_to_checkpoint.py src/emolens/models/default.onnx ../shared/data/fer2013 \
        --config configs/ferplus_lite0_96px.toml --out runs/default_recovered.pt
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier
from emolens.emotion.preprocessing import prepare_crops
from emolens.training.checkpoint import save_checkpoint
from emolens.training.config import TrainConfig
from emolens.training.model import build_model


def onnx_weights(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
    """(weight, bias) of each Conv in graph order, and the named (head) initializers, fp16 cast back to fp32."""
    model = onnx.load(str(path))
    arrays = {i.name.removesuffix("_fp16"): numpy_helper.to_array(i).astype(np.float32)
              for i in model.graph.initializer}
    convs = [(arrays[n.input[1]], arrays[n.input[2]]) for n in model.graph.node if n.op_type == "Conv"]
    named = {k.removeprefix("0."): v for k, v in arrays.items() if k.startswith("0.")}
    return convs, named


def backbone_pairs(model: nn.Module, size: int) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Each backbone convolution with the BatchNorm that follows it, in execution order."""
    order: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda mod, *_: order.append(mod))
             for m in model.backbone.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    with torch.inference_mode():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    convs = [m for m in order if isinstance(m, nn.Conv2d)]
    norms = [m for m in order if isinstance(m, nn.BatchNorm2d)]
    # Squeeze-excitation convs (if any) have no BatchNorm; EfficientNet-Lite has none, so every conv pairs up.
    if len(convs) != len(norms):
        raise ValueError(f"{len(convs)} convolutions but {len(norms)} BatchNorms in the backbone")
    return list(zip(convs, norms, strict=True))


def recover(onnx_path: Path, data: Path, config: TrainConfig, samples: int) -> dict:
    """A checkpoint dict (as written by training) holding the ONNX model's weights."""
    info = EmotionClassifier(onnx_path).model_info
    model = build_model(config, len(info.labels), pretrained=False)
    pairs = backbone_pairs(model, config.input_size)
    fused, named = onnx_weights(onnx_path)
    if len(fused) != len(pairs):
        raise ValueError(f"{onnx_path}: {len(fused)} Conv nodes, the model has {len(pairs)} convolutions")
    for (conv, norm), (weight, bias) in zip(pairs, fused, strict=True):
        conv.weight.data.copy_(torch.from_numpy(weight))
        norm.reset_parameters()
        norm.running_var.fill_(1.0 - norm.eps)  # z + b, as in the ONNX file, until the statistics are measured
        norm.bias.data.copy_(torch.from_numpy(bias))
    model.head.load_state_dict({k.removeprefix("head."): torch.from_numpy(v) for k, v in named.items()}, strict=True)

    stats: dict[nn.Conv2d, list[torch.Tensor]] = {}

    def record(conv: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        z = out.detach().transpose(0, 1).reshape(out.shape[1], -1).double()
        acc = stats.setdefault(conv, [torch.zeros(out.shape[1], dtype=torch.float64)] * 3)
        stats[conv] = [acc[0] + z.shape[1], acc[1] + z.sum(1), acc[2] + (z * z).sum(1)]

    faces = load_dataset(data, "train", label_mode="majority")
    pick = np.random.default_rng(0).choice(len(faces), min(samples, len(faces)), replace=False)
    x = torch.from_numpy(prepare_crops([faces.images[i] for i in pick], info.preprocessing))
    hooks = [conv.register_forward_hook(record) for conv, _ in pairs]
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(x), 128):
            model(x[start:start + 128])
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for (conv, norm), (_, bias) in zip(pairs, fused, strict=True):
            n, s, ss = stats[conv]
            mean = s / n
            var = (ss / n - mean * mean).clamp_min(0)
            norm.running_mean.copy_(mean.float())
            norm.running_var.copy_(var.float())
            norm.weight.copy_(torch.sqrt(var + norm.eps).float())
            norm.bias.copy_(mean.float() + torch.from_numpy(bias))
    config = dataclasses.replace(config, crop_margin=info.preprocessing.crop_margin)
    return {"model": model.state_dict(), "config": config.to_dict(), "label_names": list(info.labels), "epoch": 0,
            "best_val_accuracy": float(info.info.get("best_val_accuracy", "nan")), "history": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--config", type=Path, required=True, help="the config the model was trained with")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=4096, help="training faces for the BatchNorm statistics")
    args = parser.parse_args()
    checkpoint = recover(args.model, args.data, TrainConfig.load(args.config), args.samples)
    save_checkpoint(checkpoint, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
