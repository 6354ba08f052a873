"""Average several exported emotion models inside one ONNX file (``emolens ensemble``).

The members must agree on labels and preprocessing; the file runs each on the same input and outputs the mean of
their (uncalibrated) probabilities, so it is one model to the runtime. Calibrate the result with
``emolens calibrate``: the members' own calibrations do not carry over.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import compose, helper

from emolens.emotion.metadata import ModelInfo
from emolens.errors import ModelError
from emolens.training.onnx_metadata import set_model_info

INPUT, OUTPUT = "input", "probabilities"
"""The input and output names of every emolens model (``emolens export``)."""


def _member(path: Path, index: int) -> tuple[onnx.ModelProto, ModelInfo]:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends without a common base
        raise ModelError(f"{path}: not an ONNX model ({exc})") from None
    info = ModelInfo.from_properties({p.key: p.value for p in model.metadata_props}, str(path))
    if [i.name for i in model.graph.input] != [INPUT] or [o.name for o in model.graph.output] != [OUTPUT]:
        raise ModelError(f"{path}: expected one input '{INPUT}' and one output '{OUTPUT}', as emolens export writes")
    return compose.add_prefix(model, f"m{index}_"), info


def ensemble_onnx(members: list[str | Path], out: str | Path) -> ModelInfo:
    """Write one ONNX model that averages the probabilities of ``members`` (two or more emolens models with the
    same labels and preprocessing); returns its metadata."""
    if len(members) < 2:
        raise ModelError("an ensemble needs at least two models")
    loaded = [_member(Path(path), i) for i, path in enumerate(members)]
    first = loaded[0][1]
    for path, (_, info) in zip(members[1:], loaded[1:], strict=True):
        if info.labels != first.labels or info.preprocessing != first.preprocessing:
            raise ModelError(f"{path}: labels or preprocessing differ from {members[0]} "
                             f"({info.labels} {info.preprocessing} against {first.labels} {first.preprocessing})")
    nodes, initializers = [], []
    for i, (model, _) in enumerate(loaded):
        for node in model.graph.node:
            node.input[:] = [INPUT if name == f"m{i}_{INPUT}" else name for name in node.input]
            nodes.append(node)
        initializers += model.graph.initializer
    nodes.append(helper.make_node("Mean", [f"m{i}_{OUTPUT}" for i in range(len(loaded))], [OUTPUT]))
    graph_in, graph_out = loaded[0][0].graph.input[0], loaded[0][0].graph.output[0]
    graph = helper.make_graph(nodes, "emolens_ensemble",
                              [helper.make_value_info(INPUT, graph_in.type)],
                              [helper.make_value_info(OUTPUT, graph_out.type)], initializer=initializers)
    model = helper.make_model(graph, opset_imports=loaded[0][0].opset_import, ir_version=loaded[0][0].ir_version)
    info = ModelInfo(first.labels, first.preprocessing,
                     {"ensemble": " + ".join(Path(p).name for p in members),
                      **{f"member{i}_{k}": v for i, (_, m) in enumerate(loaded) for k, v in m.info.items()
                         if k in ("backbone", "commit", "best_val_accuracy")}})
    set_model_info(model, info)
    onnx.checker.check_model(model)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return info
