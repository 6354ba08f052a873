"""``kill -9`` of ``emolens batch`` mid-run: how long the processes of the Ray it started outlive it.

    python benchmarks/batch_kill.py [--runs 3]

Starts ``emolens batch`` on the photo folder (``--workers 1``, the embedded Ray), kills the driver once its
first part is written, and prints the seconds until the last of its Ray processes (listed just before the kill)
is gone, and which one it was.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from common import PHOTOS


def one_run(limit_s: float = 120) -> tuple[float, str]:
    """Seconds from the kill until every Ray process of the run is gone, and the last one's name."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        driver = subprocess.Popen([sys.executable, "-c", "from emolens.cli.main import cli; cli()", "batch",
                                   str(PHOTOS / "images"), "--out", str(out), "--workers", "1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not list((out / "units").glob("part-*")) and driver.poll() is None:
            time.sleep(0.2)
        ray = [p for p in psutil.Process(driver.pid).children(recursive=True) if "ray" in " ".join(p.cmdline())]
        names = {p.pid: p.name() for p in ray}
        driver.kill()
        killed = time.monotonic()
        last = ""
        while ray and time.monotonic() - killed < limit_s:
            ray = [p for p in ray if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            last = names[ray[0].pid] if ray else last
            time.sleep(0.1)
        driver.wait()
        return time.monotonic() - killed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(args.runs):
        seconds, last = one_run()
        print(f"run {run + 1}: every Ray process gone {seconds:.1f} s after kill -9 (last: {last})")


if __name__ == "__main__":
    main()
