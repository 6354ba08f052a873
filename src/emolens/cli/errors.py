"""Turn user-facing errors into a one-line message and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import click

from emolens.datasets import DatasetError
from emolens.errors import EmolensError

F = TypeVar("F", bound=Callable[..., Any])

USER_ERRORS = (EmolensError, DatasetError, FileNotFoundError, FileExistsError, ValueError)


def user_errors(func: F) -> F:
    """Decorate a click command so that expected errors exit with status 1 and a clear message."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]
