"""`emolens batch` (Ray Data, embedded local Ray) against one `emolens analyze` process, side by side in one run:
the whole command on the 69-photo folder, and on 500 real photos (the 69 photos copied over and over under
new names into a temporary folder: same decoding and analysis work per file, no new faces). Also the peak
memory (RSS) of each analysis actor and of the `analyze` process, and the CPU time of each command's whole
process tree (Ray's processes included), sampled from /proc every 0.1 s.

    python benchmarks/batch_throughput.py [--workers 2] [--count 500]

Targets (issue 9, on a 2-core machine): batch on 2 workers >= 1.7x the images/s of one analyze process on the
500 photos; the whole batch command on 69 photos < 2x the time of analyze. Images/s are given twice: over the
whole command (start-up included), and marginal: (500 - 69) / (T500 - T69), start-up costs cancelled out. The
marginal CPU time per image, which the load of other jobs does not change, gives what the workers would reach
on idle cores.
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


TICK = os.sysconf("SC_CLK_TCK")
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 2**20


class ProcessTree(threading.Thread):
    """Samples a command's process and all its descendants (Ray's processes included) every 0.1 s: the CPU time
    of each (user + system, as last seen) and its peak RSS."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.cpu_s, self.peak_mib, self.titles = root, {}, {}, {}
        self.done = threading.Event()

    def _sample(self) -> None:
        stats = {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                stats[int(entry)] = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
        tree, grew = {self.root}, True
        while grew:
            children = {pid for pid, f in stats.items() if int(f[1]) in tree} - tree
            tree, grew = tree | children, bool(children)
        for pid in tree & stats.keys():
            fields = stats[pid]
            self.cpu_s[pid] = (int(fields[11]) + int(fields[12])) / TICK
            self.peak_mib[pid] = max(self.peak_mib.get(pid, 0.0), int(fields[21]) * PAGE_MIB)
            try:  # Ray renames a worker when it becomes an actor or runs a task: keep every name seen
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if title not in self.titles.get(pid, b""):
                self.titles[pid] = self.titles.get(pid, b"") + b" " + title

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds of the analysis actors, the other Ray workers (decoding tasks, Ray Data's helpers), the
        command's own process, and Ray's system processes (GCS, raylet, agents)."""
        roles: dict[str, float] = {}
        for pid, seconds in self.cpu_s.items():
            title = self.titles.get(pid, b"")
            role = ("actors" if ACTOR_TITLE in title else "command" if pid == self.root
                    else "other workers" if b"ray::" in title else "Ray system")
            roles[role] = roles.get(role, 0.0) + seconds
        return roles

    def run(self) -> None:
        while not self.done.wait(0.1):
            self._sample()


def timed(args: list[str]) -> tuple[float, float, list[float]]:
    """Seconds the command took, the CPU seconds of its process tree, and the peak RSS (MiB) of its analysis
    processes (the actors for batch, the process itself for analyze)."""
    start = time.perf_counter()
    process = subprocess.Popen(EMOLENS + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = ProcessTree(process.pid)
    tree.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    tree.done.set()
    tree.join()
    if process.returncode:
        sys.exit(f"{' '.join(args[:2])} failed:\n{err[-2000:]}")
    if args[0] == "batch":
        print(f"    {out.strip()}")
        print("    CPU s: " + ", ".join(f"{role} {v:.1f}" for role, v in sorted(tree.cpu_by_role().items())))
        peaks = [tree.peak_mib[pid] for pid, title in tree.titles.items() if ACTOR_TITLE in title]
    else:
        peaks = [tree.peak_mib[process.pid]]
    return seconds, sum(tree.cpu_s.values()), sorted(peaks)


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
        results, cpu = {}, {}
        for name, folder, n in (("69 photos", small, n_small), (f"{args.count} photos", large, args.count)):
            print(f"{name}:")
            a_s, a_cpu, a_rss = timed(["analyze", str(folder), "--json"])
            print(f"  analyze            {a_s:6.1f} s  {n / a_s:5.1f} images/s  CPU {a_cpu:5.1f} s "
                  f"({a_cpu / n * 1000:.0f} ms/image)  peak RSS {a_rss[0]:.0f} MiB")
            out = Path(tmp) / f"out-{n}"
            b_s, b_cpu, b_rss = timed(["batch", str(folder), "--out", str(out), "--workers", str(args.workers)])
            print(f"  batch ({args.workers} workers)  {b_s:6.1f} s  {n / b_s:5.1f} images/s  CPU {b_cpu:5.1f} s "
                  f"({b_cpu / n * 1000:.0f} ms/image, all Ray processes)  peak RSS per actor "
                  f"{', '.join(f'{v:.0f}' for v in b_rss)} MiB  ({b_s / a_s:.2f}x the time of analyze)")
            cpu[n] = (a_cpu, b_cpu)
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
    (ac69, bc69), (ac500, bc500) = cpu[n_small], cpu[args.count]
    a_ms, b_ms = (ac500 - ac69) / extra * 1000, (bc500 - bc69) / extra * 1000
    print(f"marginal CPU per image: batch {b_ms:.0f} ms vs analyze {a_ms:.0f} ms; on {args.workers} idle cores "
          f"that would be {args.workers * a_ms / b_ms:.2f}x the images/s of analyze on one")
    print(f"overhead on {n_small} photos: batch {b69:.1f} s vs analyze {a69:.1f} s = {b69 / a69:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
