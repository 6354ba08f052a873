"""Build the ONNX graphs the live page runs in the browser (ONNX Runtime Web), into src/emolens/web/static/models/.

Python and the browser share these definitions instead of writing them twice:

- ``blazeface_short.onnx``: the bundled short-range BlazeFace model with its input scaling (RGB 0..255 to [-1, 1])
  in front and MediaPipe's box decoding behind it (sigmoid scores; boxes and the six landmarks in input pixels,
  from the anchors of :func:`emolens.faces.blazeface.ssd_anchors`). The browser keeps only the letterbox resize,
  the score threshold and the weighted merge of overlapping boxes (no ONNX operator does a score-weighted merge).
- ``emotion_input.onnx``: crops (N, S, S, C) of 0..255 values (C = 1 grey, 3 RGB) to the model's input
  (N, 3, S, S): ``(x / 255 - mean) / std``, grey repeated on 3 channels; mean and std are inputs, from the model's
  metadata as the server describes it.
- ``calibration.onnx``: :class:`emolens.emotion.metadata.Calibration`, ``softmax((log(p) + b) / T)``, with the
  bias ``b`` and temperature ``T`` as inputs, so that the server decides which bias a page uses.

The emotion model itself is served as is (any model ``emolens export`` wrote works). Needs onnx (the ``train``
extra); the output is deterministic, and tests/web/test_browser_models.py checks the committed files against it:

    python tools/build_browser_graphs.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from emolens.faces.blazeface import VARIANTS, ssd_anchors

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "emolens" / "web" / "static" / "models"
OPSET = [helper.make_opsetid("", 13)]
PRODUCER = "emolens tools/build_browser_graphs.py"


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _model(graph: onnx.GraphProto, opsets: list | None = None) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=opsets or OPSET, producer_name=PRODUCER)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def blazeface(variant: str) -> onnx.ModelProto:
    """The bundled BlazeFace model with input scaling in front and box decoding behind (see the module docs)."""
    spec = VARIANTS[variant]
    path = ROOT / "src" / "emolens" / "faces" / "models" / spec.file
    model = onnx.load(str(path))
    graph = model.graph
    size = spec.size
    anchors = ssd_anchors(size, size, spec.strides, spec.anchors_per_layer)
    raw_name, logit_name = (o.name for o in graph.output)
    model_input = graph.input[0].name
    graph.initializer.extend([
        _const("emolens_scale", np.float32(2.0 / 255.0)), _const("emolens_one", np.float32(1.0)),
        _const("emolens_anchors", anchors), _const("emolens_anchor_points", np.tile(anchors, (1, 6))),
        _const("emolens_half", np.float32(0.5)), _const("emolens_lo", np.float32(-80.0)),
        _const("emolens_hi", np.float32(80.0)), _const("emolens_axis0", np.array([0], np.int64)),
        _const("emolens_rows", np.array([-1], np.int64)),
        *(_const(f"emolens_{n}", np.array([v], np.int64)) for n, v in
          (("s0", 0), ("s2", 2), ("s4", 4), ("s16", 16), ("ax1", 1)))])
    front = [helper.make_node("Mul", ["pixels", "emolens_scale"], ["emolens_scaled"]),
             helper.make_node("Sub", ["emolens_scaled", "emolens_one"], [model_input])]
    back = [
        helper.make_node("Squeeze", [raw_name, "emolens_axis0"], ["emolens_raw"]),
        helper.make_node("Slice", ["emolens_raw", "emolens_s0", "emolens_s2", "emolens_ax1"], ["emolens_offset"]),
        helper.make_node("Slice", ["emolens_raw", "emolens_s2", "emolens_s4", "emolens_ax1"], ["emolens_size"]),
        helper.make_node("Slice", ["emolens_raw", "emolens_s4", "emolens_s16", "emolens_ax1"], ["emolens_pts"]),
        helper.make_node("Add", ["emolens_offset", "emolens_anchors"], ["emolens_centre"]),
        helper.make_node("Mul", ["emolens_size", "emolens_half"], ["emolens_halfsize"]),
        helper.make_node("Sub", ["emolens_centre", "emolens_halfsize"], ["emolens_min"]),
        helper.make_node("Add", ["emolens_centre", "emolens_halfsize"], ["emolens_max"]),
        helper.make_node("Concat", ["emolens_min", "emolens_max"], ["boxes"], axis=1),
        helper.make_node("Add", ["emolens_pts", "emolens_anchor_points"], ["points"]),
        helper.make_node("Reshape", [logit_name, "emolens_rows"], ["emolens_logits"]),
        helper.make_node("Clip", ["emolens_logits", "emolens_lo", "emolens_hi"], ["emolens_clipped"]),
        helper.make_node("Sigmoid", ["emolens_clipped"], ["scores"]),
    ]
    nodes = front + list(graph.node) + back
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, size, size, 3]))
    del graph.output[:]
    count = len(anchors)
    graph.output.extend([helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [count, 4]),
                         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [count]),
                         helper.make_tensor_value_info("points", TensorProto.FLOAT, [count, 12])])
    del graph.value_info[:]
    model.producer_name = PRODUCER
    del model.metadata_props[:]
    onnx.checker.check_model(model)
    return model


def emotion_input() -> onnx.ModelProto:
    """Crops (N, S, S, C) of 0..255 values to normalised model input (N, 3, S, S)."""
    nodes = [helper.make_node("Div", ["crops", "k255"], ["unit"]),
             helper.make_node("Sub", ["unit", "mean"], ["centred"]),
             helper.make_node("Div", ["centred", "std"], ["scaled"]),
             helper.make_node("Transpose", ["scaled"], ["planar"], perm=[0, 3, 1, 2]),
             helper.make_node("Shape", ["planar"], ["shape"]),
             helper.make_node("Mul", ["shape", "keep_channels"], ["masked"]),
             helper.make_node("Max", ["masked", "three_channels"], ["target"]),
             helper.make_node("Expand", ["planar", "target"], ["input"])]
    graph = helper.make_graph(
        nodes, "emotion_input",
        [helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["n", "s", "s", "c"]),
         helper.make_tensor_value_info("mean", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("std", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, "s", "s"])],
        [_const("k255", np.float32(255.0)), _const("keep_channels", np.array([1, 0, 1, 1], np.int64)),
         _const("three_channels", np.array([1, 3, 1, 1], np.int64))])
    return _model(graph)


def calibration() -> onnx.ModelProto:
    """softmax((log(max(p, 1e-12)) + bias) / temperature) over the last axis."""
    nodes = [helper.make_node("Max", ["probabilities", "floor"], ["clipped"]),
             helper.make_node("Log", ["clipped"], ["logp"]),
             helper.make_node("Add", ["logp", "bias"], ["biased"]),
             helper.make_node("Div", ["biased", "temperature"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["scores"], axis=-1)]
    graph = helper.make_graph(
        nodes, "calibration",
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", "c"]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["c"]),
         helper.make_tensor_value_info("temperature", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", "c"])],
        [_const("floor", np.float32(1e-12))])
    return _model(graph)


GRAPHS = {"blazeface_short.onnx": lambda: blazeface("short"), "emotion_input.onnx": emotion_input,
          "calibration.onnx": calibration}
"""What this tool writes: file name -> builder."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in GRAPHS.items():
        (args.out / name).write_bytes(build().SerializeToString())


if __name__ == "__main__":
    main()
