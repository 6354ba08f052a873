"""`emolens batch` (Ray Data, embedded local Ray) against one `emolens analyze` process, side by side in one run:
the whole command on the 69-photo folder, and on 500 real photos (the 69 photos copied over and over under
new names into a temporary folder: same decoding and analysis work per file, no new faces). Also the peak
memory (RSS) of each analysis actor and of the `analyze` process, sampled from /proc every 0.2 s.

    python benchmarks/batch_throughput.py [--workers 2] [--count 500]

Targets (issue 9, on a 2-core machine): batch on 2 workers >= 1.7x the images/s of one analyze process on the
500 photos; the whole batch command on 69 photos < 2x the time of analyze. Images/s are given twice: over the
whole command (start-up included), and marginal: (500 - 69) / (T500 - T69), start-up costs cancelled out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from common import PHOTOS

EMOLENS = [sys.executable, "-c", "from emolens.cli.main import cli; cli()"]
ACTOR_TITLE = b"AnalyzeUnits"
"""Ray names an actor's process after its class (``ray::MapWorker(MapBatches(AnalyzeUnits))``)."""


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class PeakRss(threading.Thread):
    """Peak RSS per process, for the given pid, or for every process whose command line holds ``title``."""

    def __init__(self, pid: int | None = None, title: bytes | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.title, self.peaks, self.done = pid, title, {}, threading.Event()

    def _pids(self) -> list[int]:
        if self.pid is not None:
            return [self.pid]
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and self.title in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
        return found

    def run(self) -> None:
        while not self.done.wait(0.2):
            for pid in self._pids():
                try:
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), _rss_mib(pid))
                except (OSError, StopIteration):
                    continue


def timed(args: list[str], title: bytes | None = None) -> tuple[float, dict[int, float]]:
    """Seconds the command took, and the peak RSS (MiB) of the processes sampled."""
    start = time.perf_counter()
    process = subprocess.Popen(EMOLENS + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = PeakRss(title=title) if title else PeakRss(pid=process.pid)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    sampler.done.set()
    if process.returncode:
        sys.exit(f"{' '.join(args[:2])} failed:\n{err[-2000:]}")
    if title:
        print(f"    {out.strip()}")
    return seconds, sampler.peaks


def many_photos(folder: Path, count: int) -> Path:
    """``count`` photos: the real ones copied round-robin under new names."""
    photos = sorted((PHOTOS / "images").iterdir())
    for i in range(count):
        source = photos[i % len(photos)]
        shutil.copy(source, folder / f"{i:04d}_{source.name}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "many").mkdir()
        small, large = PHOTOS / "images", many_photos(Path(tmp) / "many", args.count)
        n_small = len(list(small.iterdir()))
        results = {}
        for name, folder, n in (("69 photos", small, n_small), (f"{args.count} photos", large, args.count)):
            print(f"{name}:")
            a_s, a_rss = timed(["analyze", str(folder), "--json"])
            print(f"  analyze            {a_s:6.1f} s  {n / a_s:5.1f} images/s  peak RSS {max(a_rss.values()):.0f} MiB")
            out = Path(tmp) / f"out-{n}"
            b_s, b_rss = timed(["batch", str(folder), "--out", str(out), "--workers", str(args.workers)], ACTOR_TITLE)
            actors = ", ".join(f"{v:.0f}" for v in sorted(b_rss.values()))
            print(f"  batch ({args.workers} workers)  {b_s:6.1f} s  {n / b_s:5.1f} images/s  "
                  f"peak RSS per actor {actors} MiB  ({b_s / a_s:.2f}x the time of analyze)")
            results[n] = (a_s, b_s)
            size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
            faces = sum(pq.read_metadata(p).num_rows for p in (out / "faces").glob("*.parquet"))
            print(f"  output: {size / 1024:.0f} KiB of Parquet for {faces} faces ({size / faces:.0f} bytes per face)")
    (a69, b69), (a500, b500) = results[n_small], results[args.count]
    extra = args.count - n_small
    print(f"whole command, {args.count} photos: batch {args.count / b500:.1f} vs analyze {args.count / a500:.1f} "
          f"images/s = {a500 / b500:.2f}x")
    print(f"marginal, {extra} photos: batch {extra / (b500 - b69):.1f} vs analyze {extra / (a500 - a69):.1f} "
          f"images/s = {(a500 - a69) / (b500 - b69):.2f}x")
    print(f"overhead on {n_small} photos: batch {b69:.1f} s vs analyze {a69:.1f} s = {b69 / a69:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
