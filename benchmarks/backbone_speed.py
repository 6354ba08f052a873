"""Training speed of the backbones on this machine's CPU: seconds per training step (forward, backward and
AdamW step, all layers training, batch of real FER2013 faces), extrapolated to one epoch of FER2013's 28,709
training images, and each model's parameter count. Measured on a few steps, not a whole epoch.

    python benchmarks/backbone_speed.py [--threads 2] [--steps 3] [--batch 32] [--size 96]
        [--backbones efficientnet-lite0 efficientnet-b0 efficientnet-b4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import FER

from emolens.datasets import load_dataset
from emolens.emotion.preprocessing import Preprocessing, prepare_crops
from emolens.training.model import EmotionNet

FER2013_TRAIN_IMAGES = 28_709


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps, after one warm-up step")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=96, help="input side in pixels")
    parser.add_argument("--backbones", nargs="+", default=["efficientnet-lite0", "efficientnet-b0", "efficientnet-b4"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(FER / "privatetest")
    x = torch.from_numpy(prepare_crops(data.images[:args.batch], Preprocessing(input_size=args.size)))
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(np.asarray(data.label_ids[:args.batch]))
    print(f"CPU, {args.threads} thread(s), batch {args.batch}, {args.size} px, {args.steps} timed steps")
    for backbone in args.backbones:
        model = EmotionNet(backbone, 7, args.size, backbone_weights="random").to(memory_format=torch.channels_last)
        model.set_stage("all")
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        seconds = []
        for step in range(args.steps + 1):
            began = time.perf_counter()
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step:
                seconds.append(time.perf_counter() - began)
        per_step = float(np.median(seconds))
        epoch_h = per_step * FER2013_TRAIN_IMAGES / args.batch / 3600
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"{backbone:18s} {params:5.1f} M params  {per_step:6.2f} s/step  {args.batch / per_step:6.1f} images/s"
              f"  -> {epoch_h:5.2f} h per FER2013 epoch (extrapolated)")


if __name__ == "__main__":
    main()
