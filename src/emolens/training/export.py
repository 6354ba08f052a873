"""Export a checkpoint to ONNX, with labels and preprocessing in the file's metadata."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from emolens.emotion.metadata import ModelInfo
from emolens.training.checkpoint import load_checkpoint
from emolens.training.onnx_metadata import set_model_info


def git_commit() -> str:
    """The current git commit of the working directory, or ``unknown``."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def store_weights_fp16(model: onnx.ModelProto, min_elements: int = 1024) -> None:
    """Halve the file: large float32 weights are stored as float16 with a Cast back to float32.

    ONNX Runtime folds the Casts when it loads the model, so inference still runs in float32.
    """
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            continue
        array = numpy_helper.to_array(init)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(array.astype(np.float16), name + "_fp16"))
        casts.append(onnx.helper.make_node("Cast", [name + "_fp16"], [name], to=onnx.TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


def export_onnx(checkpoint: str | Path, out: str | Path, crop_margin: float | None = None, fp16_weights: bool = True,
                info: dict[str, str] | None = None, source_size: int | None = None) -> ModelInfo:
    """Write ``checkpoint`` as an ONNX model (input ``input`` N x 3 x S x S, output ``probabilities``).

    ``crop_margin`` and ``source_size`` override the preprocessing the checkpoint's config gives.
    """
    model, config, labels, raw = load_checkpoint(checkpoint)
    prep = config.preprocessing
    if crop_margin is not None:
        prep = dataclasses.replace(prep, crop_margin=crop_margin)
    if source_size is not None:
        prep = dataclasses.replace(prep, source_size=source_size)
    wrapped = torch.nn.Sequential(model.exportable(), torch.nn.Softmax(dim=1)).eval()
    dummy = torch.zeros(1, 3, config.input_size, config.input_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(wrapped, (dummy,), str(out), input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    onnx_model = onnx.load(str(out))
    if fp16_weights:
        store_weights_fp16(onnx_model)
    model_info = ModelInfo(labels, prep, {"backbone": config.backbone, "commit": git_commit(),
                                          "best_val_accuracy": f"{raw.get('best_val_accuracy', float('nan')):.4f}",
                                          "epochs": str(raw.get("epoch")), **(info or {})})
    set_model_info(onnx_model, model_info)
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(out))
    return model_info
