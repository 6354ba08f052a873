"""JSON as the commands print it: indented by two spaces, with each array of numbers (a box, a landmark, a row of a
confusion matrix) on one line rather than one number per line."""

from __future__ import annotations

import json
import re
from typing import Any

_NUMBER_ARRAY = re.compile(r"\[\n[\s\d.,eE+-]*\]")
"""An indented array holding only numbers. It spans a line break, which no JSON string holds, and no quote, so
it never reaches into a string (a file name with brackets stays as it is)."""


def to_json(value: Any) -> str:
    """``value`` as readable JSON (see the module docstring); ``json.loads`` gives ``value`` back."""
    return _NUMBER_ARRAY.sub(lambda m: json.dumps(json.loads(m.group())), json.dumps(value, indent=2))
