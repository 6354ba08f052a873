"""A detector's options, checked before it is built: names its constructor takes, values of its parameter's type
(a whole number where it takes one; an int is fine for a float) in their range: scores, thresholds and the border
share in [0, 1], sides and sizes above 0, everything else at least 0, no NaN or infinity.

The rules come from the backend's constructor signature (pydantic validates them), so a new option of a backend is
known here without a second list.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from emolens.errors import ConfigError
from emolens.faces import DETECTORS


def _range(name: str) -> dict[str, Any]:
    if name.endswith(("score", "threshold", "pad")):
        return {"ge": 0, "le": 1}
    if name.endswith(("side", "size")):
        return {"gt": 0}
    return {"ge": 0}


def _field_type(name: str, hint: Any) -> Any:
    """``hint`` with ``name``'s range; an optional parameter keeps accepting None."""
    args = typing.get_args(hint)
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return Optional[Annotated[inner, Field(**_range(name), allow_inf_nan=False)]]
    return Annotated[hint, Field(**_range(name), allow_inf_nan=False if hint is float else None)]


@functools.cache
def _schema(name: str) -> type[BaseModel]:
    backend = DETECTORS[name]
    hints = typing.get_type_hints(backend.load().__init__)
    fields: dict[str, Any] = {p: (_field_type(p, hints[p]), param.default) for p, param in backend.parameters().items()}
    return create_model(f"{name} options", __config__=ConfigDict(strict=True, extra="forbid"), **fields)


def allowed_options(name: str) -> tuple[str, ...]:
    """The option names the detector ``name`` takes."""
    return tuple(_schema(name).model_fields)


def check_detector_name(name: str) -> None:
    """:class:`ConfigError` naming the detectors, unless ``name`` is one of them."""
    if name not in DETECTORS:
        raise ConfigError(f"unknown face detector {name!r}; choose one of: {', '.join(DETECTORS)}")


def check_detector_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for the detector called ``name``, checked (ints given for floats become floats).

    Raises:
        ConfigError: an unknown detector, an option it does not take, or a value of the wrong type or range; the
            message names the allowed detectors or options.
    """
    check_detector_name(name)
    if not isinstance(options, Mapping):
        raise ConfigError(f"detector options must be a mapping of option names to values, got {options!r}")
    try:
        return _schema(name).model_validate(dict(options)).model_dump(exclude_unset=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = ".".join(map(str, error["loc"]))
        allowed = ", ".join(allowed_options(name))
        if error["type"] == "extra_forbidden":
            raise ConfigError(f"detector {name!r} has no option {option!r}; its options: {allowed}") from None
        raise ConfigError(f"detector {name!r} option {option}={error['input']!r}: "
                          f"{error['msg'][0].lower()}{error['msg'][1:]}") from None
