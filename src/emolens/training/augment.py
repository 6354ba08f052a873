"""Batch augmentation on normalised tensors: flip, small affine, brightness/contrast, random erasing, and the
appearance shifts that real photos bring (lower resolution, blur or sharpening, sensor noise, gamma).

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
    resolution: float = 0.0  # probability of a downscale (to 40-90 % of the side) and upscale back
    blur_sharpen: float = 0.0  # probability of a Gaussian blur or an unsharp mask, half each
    noise: float = 0.0  # probability of Gaussian noise (sigma up to 4 % of the pixel range)
    gamma: float = 0.0  # probability of a gamma change (0.6-1.6)


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def _chosen(n: int, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """(N, 1, 1, 1) mask: which samples get an augmentation applied with probability ``p``."""
    return (torch.rand(n, generator=generator) < p)[:, None, None, None]


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of every channel, edges repeated."""
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def appearance(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Resolution, blur/sharpening, noise and gamma changes of normalised pixels (about [-1, 1])."""
    n, _, h, w = x.shape
    if cfg.resolution:
        side = int(h * float(_uniform(1, 0.4, 0.9, generator)))
        low = F.interpolate(F.interpolate(x, size=(side, side), mode="area"), size=(h, w), mode="bilinear",
                            align_corners=False)
        x = torch.where(_chosen(n, cfg.resolution, generator), low, x)
    if cfg.blur_sharpen:
        blurred = _gaussian_blur(x, float(_uniform(1, 0.5, 1.5, generator)))
        sharpened = x + (x - blurred) * float(_uniform(1, 0.5, 1.5, generator))
        blur = torch.rand(n, generator=generator)[:, None, None, None] < 0.5
        x = torch.where(_chosen(n, cfg.blur_sharpen, generator), torch.where(blur, blurred, sharpened), x)
    if cfg.noise:
        sigma = _uniform(n, 0.0, 0.08, generator)[:, None, None, None]
        noise = torch.randn(n, 1, h, w, generator=generator) * sigma
        x = torch.where(_chosen(n, cfg.noise, generator), x + noise, x)
    if cfg.gamma:
        g = torch.exp(_uniform(n, math.log(0.6), math.log(1.6), generator))[:, None, None, None]
        curved = ((x + 1) / 2).clamp(0, 1).pow(g) * 2 - 1
        x = torch.where(_chosen(n, cfg.gamma, generator), curved, x)
    return x.clamp(-1.5, 1.5)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return an augmented copy of ``x`` (N, C, H, W), normalised pixels."""
    n, _, h, w = x.shape
    if cfg.resolution or cfg.blur_sharpen or cfg.noise or cfg.gamma:
        x = appearance(x, cfg, generator)
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
