"""An int8 copy of an emotion model: ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8
activations), calibrated on FER2013 training faces prepared exactly as the runtime prepares crops. The model's
emolens metadata (labels, preprocessing, calibration) is copied. Needs onnx (the ``[train]`` extra).

    python tools/quantize_emotion.py OUT.onnx [--model src/emolens/models/default.onnx] [--faces 600] [--reduce-range]
    python benchmarks/model_accuracy.py --model OUT.onnx --out runs/int8_card    # its accuracy
    python benchmarks/latency.py --compare-models OUT.onnx                       # its speed
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

from emolens.datasets import load_dataset
from emolens.emotion.classifier import EmotionClassifier, default_model_path
from emolens.emotion.preprocessing import prepare_crops

REPO = Path(__file__).resolve().parents[1]


class Faces(CalibrationDataReader):
    """Model inputs of ``count`` training faces, evenly spread over the training set, one per batch."""

    def __init__(self, classifier: EmotionClassifier, input_name: str, data: Path, count: int) -> None:
        train = load_dataset(data, "train", label_mode="majority")
        picks = np.linspace(0, len(train) - 1, count).astype(int)
        inputs = prepare_crops([train.images[i] for i in picks], classifier.preprocessing).astype(np.float32)
        self._name = input_name
        self._batches = iter(inputs[i:i + 1] for i in range(len(inputs)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._name: batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "fer2013")
    parser.add_argument("--faces", type=int, default=600, help="training faces to calibrate on")
    parser.add_argument("--reduce-range", action="store_true",
                        help="7-bit weights: no int16 saturation in VPMADDUBSW on x86 CPUs without VNNI, so the "
                             "scores do not depend on the CPU")
    args = parser.parse_args()
    args.model, args.data = args.model.resolve(), args.data.resolve()
    classifier = EmotionClassifier(args.model, threads=1)
    original = onnx.load(str(args.model))
    args.out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # the quantizer leaves files in the cwd
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(args.model), str(prepared), skip_symbolic_shape=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        faces = Faces(classifier, original.graph.input[0].name, args.data, args.faces)
        quantize_static(str(prepared), str(args.out), faces,
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, reduce_range=args.reduce_range)
    quantized = onnx.load(str(args.out))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(original.metadata_props)
    onnx.save(quantized, str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), calibrated on {args.faces} training faces")


if __name__ == "__main__":
    main()
