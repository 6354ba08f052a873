"""Peak resident memory of ``decode_image`` per decoded megapixel, by kind of image, each in a fresh process.

    python benchmarks/decode_memory.py [--side 3000] [--kind "16-bit PNG"]...

Pillow's own buffers are C allocations that tracemalloc does not see, so the resident peak is measured
(``/proc/self/clear_refs`` resets it, Linux only) from just before the decode to its end. The images are random
noise (no compression helps), ``side`` x ``side`` pixels. docs/reliability.md states the bound.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys

import numpy as np
from PIL import Image

KINDS = ("RGB PNG", "16-bit PNG", "float TIFF", "RGB JPEG")


def encoded(kind: str, side: int) -> bytes:
    """A noise image of ``kind``, encoded."""
    rng = np.random.default_rng(0)
    if kind == "16-bit PNG":
        image, fmt = Image.fromarray(rng.integers(0, 65535, (side, side), dtype=np.uint16)), "PNG"
    elif kind == "float TIFF":
        image, fmt = Image.fromarray(rng.random((side, side), dtype=np.float32) * 1000), "TIFF"
    else:
        image, fmt = Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)), kind.split()[-1]
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _mib(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) / 1024


def measure(kind: str, side: int) -> float:
    """MB of peak resident growth per decoded megapixel (run in a process of its own)."""
    from emolens.images import decode_image

    data = encoded(kind, side)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak resident size starts again from the current one
    before = _mib("VmRSS")
    pixels = decode_image(data, kind)
    assert pixels.shape == (side, side, 3)
    return (_mib("VmHWM") - before) * 1.048576 / (side * side / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=3000)
    parser.add_argument("--kind", action="append", choices=KINDS, help="default: every kind")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure this kind in this process
    args = parser.parse_args()
    if args.one:
        print(f"{measure(args.one, args.side):.2f}")
        return
    for kind in args.kind or KINDS:
        done = subprocess.run([sys.executable, __file__, "--one", kind, "--side", str(args.side)],
                              capture_output=True, text=True, check=True)
        print(f"{kind}: {float(done.stdout):.2f} MB per decoded megapixel")


if __name__ == "__main__":
    main()
