"""ONNX Runtime execution providers: which hardware runs the emotion model and the face detector (MediaPipe's
``delegate``, insightface's ``providers``). Every ONNX Runtime session of emolens is given the same tuple, in order
of preference: ONNX Runtime runs each node on the first provider that supports it."""

from __future__ import annotations

from typing import Any

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
