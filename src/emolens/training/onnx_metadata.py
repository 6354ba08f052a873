"""Writing an emolens model's metadata into an ONNX file (``emolens export`` and ``emolens calibrate``)."""

from __future__ import annotations

import onnx

from emolens.emotion.metadata import ModelInfo


def set_model_info(model: onnx.ModelProto, model_info: ModelInfo) -> None:
    """Replace the ``emolens.*`` metadata of ``model`` with ``model_info``, keeping any other keys."""
    properties = {p.key: p.value for p in model.metadata_props if not p.key.startswith("emolens.")}
    properties.update(model_info.to_properties())
    del model.metadata_props[:]
    for key, value in properties.items():
        model.metadata_props.add(key=key, value=value)
