"""A quiet terminal: what the libraries underneath print on a normal run (torch's export warnings, FFmpeg's notes
on a broken file, Ray's notices and its C++ core's log) is kept out of the way unless ``emolens --verbose`` is
given. Errors still reach the user, as emolens's own one-line messages."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator

import click

VERBOSE = "emolens.verbose"
"""Key in click's context ``meta``: whether ``emolens --verbose`` was given."""

QUIET_ENVIRONMENT = {
    "OPENCV_FFMPEG_LOGLEVEL": "-8",  # AV_LOG_QUIET for OpenCV's FFmpeg ("moov atom not found": the reader says it)
}
"""Read by the libraries when they start (OpenCV's FFmpeg at its first video); a value the user has set is kept."""

QUIET_LOGGERS = {"ray._private": logging.ERROR}
"""Python loggers raised above their notices: Ray's internals (its token-authentication notice on every local
start). Ray configures its top ``ray`` logger when imported, so the level is set on the logger below it."""

RAY_NATIVE_LOG_LINE = re.compile(rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [DIWE] \d+ \d+\] \w+\.cc:\d+: [^\n]*\n?")
"""A line of Ray's C++ log on stderr, ``[2026-01-01 12:00:00,000 E 123 123] core_worker.cc:2465: ...``. On every
Ray Data run the driver logs one at error level about its own actors (ray-project/ray#57733), which
``RAY_BACKEND_LOG_LEVEL`` would only trade for a notice from each Ray process that it was set. Fatal lines
(F) stay: they come with the failure that emolens reports."""

QUIET_WARNINGS = (UserWarning, DeprecationWarning, FutureWarning, RuntimeWarning)
"""Python warning categories hidden (ResourceWarning, which the tests turn into errors, is left alone)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Within the block: the environment, loggers and warning filters above; all restored afterwards."""
    saved_environment = {name: os.environ.get(name) for name in QUIET_ENVIRONMENT}
    saved_levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    try:
        with warnings.catch_warnings():
            for category in QUIET_WARNINGS:
                warnings.simplefilter("ignore", category)
            yield
    finally:
        for name, saved in saved_environment.items():
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def verbose() -> bool:
    """Whether the running command was started with ``emolens --verbose``."""
    context = click.get_current_context(silent=True)
    return bool(context and context.meta.get(VERBOSE))


def _pump(source: int, sink: int) -> None:
    while chunk := os.read(source, 65536):
        os.write(sink, RAY_NATIVE_LOG_LINE.sub(b"", chunk))  # the C++ logger writes each line whole
    os.close(source)
    os.close(sink)


@contextlib.contextmanager
def without_ray_native_log() -> Iterator[None]:
    """Within the block, file descriptor 2 (stderr below Python: C++ libraries, Python's own writes) goes through
    a thread that drops Ray's C++ log lines and passes everything else (progress bars included) on at once."""
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    original = os.dup(2)
    pump = threading.Thread(target=_pump, args=(read_end, os.dup(original)), daemon=True)
    pump.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # the pipe's last writer is gone (unless a child process kept it): the pump ends
        os.close(original)
        pump.join(timeout=5)
