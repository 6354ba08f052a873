"""Batch augmentation on normalised tensors: flip, small affine, brightness/contrast, random erasing.

All of it runs vectorised on the whole batch, so it costs little next to the network on a 2-core CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; 0 turns one off."""

    hflip: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.1
    translate: float = 0.08
    brightness: float = 0.2
    contrast: float = 0.2
    erasing: float = 0.25


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return an augmented copy of ``x`` (N, C, H, W), normalised pixels."""
    n, _, h, w = x.shape
    if cfg.hflip:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if cfg.rotate_deg or cfg.scale or cfg.translate:
        angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, generator) * math.pi / 180
        scale = _uniform(n, 1 - cfg.scale, 1 + cfg.scale, generator)
        tx = _uniform(n, -cfg.translate, cfg.translate, generator) * 2
        ty = _uniform(n, -cfg.translate, cfg.translate, generator) * 2
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if cfg.brightness or cfg.contrast:
        contrast = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, generator)[:, None, None, None]
        brightness = _uniform(n, -cfg.brightness, cfg.brightness, generator)[:, None, None, None]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean + brightness
    if cfg.erasing:
        apply = (torch.rand(n, generator=generator) < cfg.erasing)[:, None, None]
        eh = (_uniform(n, 0.1, 0.4, generator) * h).long()
        ew = (_uniform(n, 0.1, 0.4, generator) * w).long()
        y0 = (torch.rand(n, generator=generator) * (h - eh)).long()
        x0 = (torch.rand(n, generator=generator) * (w - ew)).long()
        yy = torch.arange(h)[None, :, None]
        xx = torch.arange(w)[None, None, :]
        box = ((yy >= y0[:, None, None]) & (yy < (y0 + eh)[:, None, None])
               & (xx >= x0[:, None, None]) & (xx < (x0 + ew)[:, None, None]) & apply)
        x = x.masked_fill(box[:, None], 0.0)
    return x
