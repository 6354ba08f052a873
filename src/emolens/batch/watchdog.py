"""Fate-sharing for the Ray that ``emolens batch`` starts in its own process: a small process that watches the
driver and, once it is gone (``kill -9`` included), kills the Ray processes the driver had started. Without it,
Ray's dashboard and runtime-env agents outlive a killed driver by about a minute: they notice the raylet's death
within seconds, then wait 60 s to report it to a GCS that died too (``ray._private.utils.publish_error_to_driver``).

The driver starts it with :func:`start` and ends it with :func:`stop`; it learns of the driver's end when its
standard input (a pipe from the driver) closes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import psutil

POLL_S = 1.0
"""How often the driver's Ray processes are listed (a process started since the last listing dies with the
raylet by itself)."""


def _ray_processes(driver: psutil.Process, since: float) -> dict[int, psutil.Process]:
    """The driver's descendants started at ``since`` or later that belong to Ray (their command line names it),
    this watchdog aside: a Ray the driver had started before (``ray start`` from a notebook, say) is left alone."""
    found = {}
    for child in driver.children(recursive=True):
        try:
            if child.pid != os.getpid() and child.create_time() >= since and "ray" in " ".join(child.cmdline()):
                found[child.pid] = child
        except psutil.Error:  # gone meanwhile
            continue
    return found


def main() -> None:
    """Watch the parent process until standard input closes, then kill the Ray processes it had started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the terminal's job: the driver shuts Ray down itself
    driver = psutil.Process(os.getppid())
    since = psutil.Process().create_time()
    known: dict[int, psutil.Process] = {}
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], POLL_S)
        if ready and not os.read(sys.stdin.fileno(), 1):
            break
        known.update(_ray_processes(driver, since))
    for process in known.values():
        try:
            process.kill()  # psutil checks that the pid still names the same process
        except psutil.Error:
            continue


def start() -> subprocess.Popen:
    """Start the watchdog of this process's Ray."""
    return subprocess.Popen([sys.executable, "-m", "emolens.batch.watchdog"], stdin=subprocess.PIPE)


def stop(watchdog: subprocess.Popen) -> None:
    """End the watchdog (after ``ray.shutdown()``): it kills what is left of Ray, then exits."""
    if watchdog.stdin is not None:
        watchdog.stdin.close()
    watchdog.wait()


if __name__ == "__main__":
    main()
