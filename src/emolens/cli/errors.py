"""Turn user-facing errors into a one-line message and a non-zero exit; programming errors keep their traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from emolens.errors import EmolensError

F = TypeVar("F", bound=Callable[..., Any])

USER_ERRORS = (EmolensError, OSError)
"""The emolens family, and what the system says about files, folders and devices (missing, no permission...).
A plain ValueError, TypeError or KeyError is a bug: it keeps its traceback."""


def user_errors(func: F) -> F:
    """Decorate a click command so that expected errors exit with status 1 and a clear message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
