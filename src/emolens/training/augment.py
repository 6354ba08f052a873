"""Batch augmentation on normalised tensors: flip, small affine, brightness/contrast, random erasing, the shifts
that real photos bring (lower resolution, blur or sharpening, sensor noise, gamma, JPEG artefacts, and things in
front of the face: dark glasses, a hand), and mixup of images with their label distributions.

All of it but JPEG (OpenCV's codec, image by image) runs vectorised on the whole batch, so it costs little next to
the network on a 2-core CPU.

Lower resolution, blur and JPEG act on the faces' own detail, not on the input pixels: a 48 px FER2013 face
upscaled to a 96 px input has ``detail`` 2 (:attr:`~emolens.emotion.preprocessing.Preprocessing.detail_scale`),
so "half the resolution" means a 24 px face and a JPEG block covers 8 of the face's pixels, as in a photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; 0 turns one off."""

    hflip: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.1
    translate: float = 0.08
    brightness: float = 0.2
    contrast: float = 0.2
    erasing: Probability = 0.25
    resolution: Probability = 0.0  # probability of a downscale (to 40-90 % of the detail's side) and upscale back
    blur_sharpen: Probability = 0.0  # probability of a Gaussian blur (sigma 0.5-1.5 detail pixels) or an unsharp mask
    noise: Probability = 0.0  # probability of Gaussian noise, per pixel or in 2x2 grains (a smaller photo upscaled)
    noise_sigma: float = 0.08  # the largest noise sigma, in normalised units (0.08 = 4 % of the pixel range)
    gamma: Probability = 0.0  # probability of a gamma change (0.6-1.6)
    jpeg: Probability = 0.0  # probability of JPEG compression at quality 15-60
    occlusion: Probability = 0.0  # probability of a dark or skin-bright ellipse over the eyes or the lower face
    mixup: Annotated[float, Field(ge=0.0)] = 0.0  # alpha: each batch mixed with itself reversed, Beta(alpha, alpha)


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


def _rescale(x: torch.Tensor, side: int) -> torch.Tensor:
    """``x`` shrunk to ``side`` (area average) and scaled back up to its own size (bilinear)."""
    small = F.interpolate(x, size=(side, side), mode="area")
    return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)


def appearance(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None,
               detail: float = 1.0) -> torch.Tensor:
    """Resolution, blur/sharpening, noise, gamma and JPEG changes of normalised pixels (about [-1, 1]);
    ``detail`` is the number of input pixels per pixel of the faces' own detail (see the module docstring)."""
    n, _, h, w = x.shape
    if cfg.resolution:
        side = max(4, int(h / detail * float(_uniform(1, 0.4, 0.9, generator))))
        x = torch.where(_chosen(n, cfg.resolution, generator), _rescale(x, side), x)
    if cfg.blur_sharpen:
        blurred = _gaussian_blur(x, float(_uniform(1, 0.5, 1.5, generator)) * detail)
        sharpened = x + (x - blurred) * float(_uniform(1, 0.5, 1.5, generator))
        blur = torch.rand(n, generator=generator)[:, None, None, None] < 0.5
        x = torch.where(_chosen(n, cfg.blur_sharpen, generator), torch.where(blur, blurred, sharpened), x)
    if cfg.noise:
        sigma = _uniform(n, 0.0, cfg.noise_sigma, generator)[:, None, None, None]
        fine = torch.randn(n, 1, h, w, generator=generator)
        grains = F.interpolate(torch.randn(n, 1, (h + 1) // 2, (w + 1) // 2, generator=generator), scale_factor=2,
                               mode="nearest")[:, :, :h, :w]  # noise of a smaller photo, upscaled to the input
        noise = torch.where(torch.rand(n, generator=generator)[:, None, None, None] < 0.5, fine, grains) * sigma
        x = torch.where(_chosen(n, cfg.noise, generator), x + noise, x)
    if cfg.gamma:
        g = torch.exp(_uniform(n, math.log(0.6), math.log(1.6), generator))[:, None, None, None]
        curved = ((x + 1) / 2).clamp(0, 1).pow(g) * 2 - 1
        x = torch.where(_chosen(n, cfg.gamma, generator), curved, x)
    if cfg.jpeg:
        x = jpeg(x, _chosen(n, cfg.jpeg, generator)[:, 0, 0, 0], generator, detail)
    return x.clamp(-1.5, 1.5)


def jpeg(x: torch.Tensor, chosen: torch.Tensor, generator: torch.Generator | None = None,
         detail: float = 1.0) -> torch.Tensor:
    """The ``chosen`` images of ``x`` (normalised, [-1, 1]) through JPEG at a random quality of 15-60, encoded at
    the faces' own detail (``x``'s side / ``detail``) and scaled back to ``x``'s size."""
    out = x.clone()
    size = x.shape[-1]
    side = max(8, round(size / detail))
    for i in torch.nonzero(chosen).flatten().tolist():
        quality = int(torch.randint(15, 61, (1,), generator=generator))
        pixels: np.ndarray = ((x[i].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
        if side != size:
            pixels = cv2.resize(pixels, (side, side), interpolation=cv2.INTER_AREA).reshape(side, side, -1)
        _, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        assert decoded is not None  # OpenCV decodes the JPEG it has just encoded
        decoded = decoded.reshape(pixels.shape)
        if side != size:
            decoded = cv2.resize(decoded, (size, size), interpolation=cv2.INTER_LINEAR).reshape(size, size, -1)
        out[i] = torch.from_numpy(decoded.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)
    return out


def occlude(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """With probability ``cfg.occlusion``, an ellipse over the eye line (dark, like sunglasses) or the lower face
    (bright, like a hand), 15-35 % of the width across."""
    n, _, h, w = x.shape
    eyes = torch.rand(n, generator=generator) < 0.5
    cy = torch.where(eyes, _uniform(n, 0.32, 0.45, generator), _uniform(n, 0.68, 0.88, generator)) * h
    cx = _uniform(n, 0.2, 0.8, generator) * w
    rx = _uniform(n, 0.15, 0.35, generator) * w
    ry = rx * _uniform(n, 0.4, 0.8, generator)
    yy = torch.arange(h, dtype=x.dtype)[None, :, None]
    xx = torch.arange(w, dtype=x.dtype)[None, None, :]
    inside = (((xx - cx[:, None, None]) / rx[:, None, None]) ** 2
              + ((yy - cy[:, None, None]) / ry[:, None, None]) ** 2 <= 1)
    tone = torch.where(eyes, _uniform(n, -1.0, -0.7, generator),
                       x.mean(dim=(1, 2, 3)) + _uniform(n, 0.1, 0.4, generator))
    mask = inside & _chosen(n, cfg.occlusion, generator)[:, 0]
    return torch.where(mask[:, None], tone[:, None, None, None].expand_as(x), x)


def mixup(x: torch.Tensor, targets: torch.Tensor, alpha: float,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) as timm's batch mode: images and label distributions of the batch blended with
    the batch in reverse order, by one weight drawn from Beta(``alpha``, ``alpha``)."""
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    return lam * x + (1 - lam) * x.flip(0), lam * targets + (1 - lam) * targets.flip(0)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None,
                  detail: float = 1.0) -> torch.Tensor:
    """Return an augmented copy of ``x`` (N, C, H, W), normalised pixels; ``detail`` as for :func:`appearance`."""
    n, _, h, w = x.shape
    if cfg.resolution or cfg.blur_sharpen or cfg.noise or cfg.gamma or cfg.jpeg:
        x = appearance(x, cfg, generator, detail)
    if cfg.occlusion:
        x = occlude(x, cfg, generator)
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
