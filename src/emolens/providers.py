"""How emolens runs ONNX Runtime: the execution providers, which hardware runs the emotion model and the face
detector (MediaPipe's ``delegate``, insightface's ``providers``), and the session options. Every ONNX Runtime
session of emolens is given the same providers, in order of preference (ONNX Runtime runs each node on the first
provider that supports it), and its options from :func:`session_options`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnxruntime

from emolens.errors import ConfigError

CPU = "CPUExecutionProvider"
DEFAULT_PROVIDERS: tuple[str, ...] = (CPU,)
"""The CPU: always available, and what the speed figures in ``benchmarks/`` were measured on."""


def check_providers(providers: Any) -> tuple[str, ...]:
    """``providers`` (one provider name, or a sequence of them in order of preference) as a tuple of names that
    this ONNX Runtime build offers.

    ONNX Runtime is imported only when something else than the CPU is asked for, so that checking the default
    options loads no ONNX Runtime (``emolens serve`` checks them before it forks its workers).

    Raises:
        ConfigError: not names, none, or a name this build does not offer; the message names the available ones.
    """
    names = (providers,) if isinstance(providers, str) else providers
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"providers must be ONNX Runtime execution provider names, such as {CPU!r}; "
                          f"got {providers!r}")
    if set(names) != {CPU}:
        import onnxruntime

        available = onnxruntime.get_available_providers()
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ConfigError(f"ONNX Runtime execution provider {unknown[0]!r} is not available here; "
                              f"available: {', '.join(available)}")
    return tuple(names)


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """ONNX Runtime session options of an emolens model: every graph optimisation, and ``threads`` intra-op threads
    (0: one per core, up to 4).

    A pool of more than one thread stops spinning when a run ends (``session.force_spinning_stop``): the
    detector's and the classifier's pools then take turns on the cores instead of each keeping threads spinning
    while the other runs (on 2 cores, the two models of a 640x480 one-face frame took 9.62 ms with two spinning
    pools of 2 threads, 4.59 ms with this, 6.33 ms on one thread each; ``python benchmarks/latency.py
    --sessions``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if options.intra_op_num_threads > 1:
        options.add_session_config_entry("session.force_spinning_stop", "1")
    return options
