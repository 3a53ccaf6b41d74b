"""`DataError` and the helpers that make its messages name rows and values.

Every data module raises the same error, worded the same way: the source, the row (and its
file line), the column and the fix. It sits below everything else in `data/` so that any
module can raise it without importing the others.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: `Examples` itself raises DataError
    from .examples import Examples

MAX_LISTED = 5


class DataError(ValueError):
    """Bad input data. The message names the source, the row/column and the fix."""


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _rows(ex: Examples, idx: list[int]) -> str:
    shown = ", ".join(ex.where(i) for i in idx[:MAX_LISTED])
    more = f" and {len(idx) - MAX_LISTED} more" if len(idx) > MAX_LISTED else ""
    return f"{shown}{more}"


def _idx(idx: list[int]) -> str:
    return ", ".join(str(i + 1) for i in idx[:MAX_LISTED]) + (" ..." if len(idx) > MAX_LISTED else "")


def _short(values: list[Any]) -> str:
    return str(values[:MAX_LISTED])[:-1] + (", ...]" if len(values) > MAX_LISTED else "]")
