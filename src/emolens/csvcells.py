"""Cells of every CSV file emolens writes (the CLI's, batch summaries, the API's export), safe to open in a
spreadsheet: a text cell that starts like a formula (``= + - @``, a tab or a carriage return) gets a leading
``'``, as OWASP's advice on CSV injection says, so ``=HYPERLINK(...)`` or ``-1-1`` shows as the text it is.
Numbers stay numbers: numeric values, and texts that are a plain number (``-0.25``), are left as they are.
The browser's CSV downloads (``web/static/js/export.js``) follow the same rule; the quoting itself is the
:mod:`csv` module's."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet."""
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows, never runs: a text starting like a formula (and not a
    plain number) with a ``'`` before it, and so is one that has ``'`` before such a start already (so that
    :func:`read_cell` gives back every text); anything else unchanged."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return f"'{value}"
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row through :func:`csv_cell`."""
    return [csv_cell(value) for value in values]


def read_cell(text: str) -> str:
    """The text :func:`csv_cell` was given for a cell read back from a CSV emolens wrote (a manifest made from
    ``problems.csv``, say)."""
    return text[1:] if text.startswith("'") and csv_cell(text[1:]) == text else text
