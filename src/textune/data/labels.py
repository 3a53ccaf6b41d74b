"""Labels: read them as the user wrote them, and match them to a model's classes.

One label column holds one label per row. Multi-label label sets (the next issue: several
labels per row) belong in this module too, so that reading, checking and matching labels
stay in one place.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from .errors import DataError, _missing, _rows, _short

if TYPE_CHECKING:  # annotations only: `Examples` calls align_labels
    from .examples import Examples

log = logging.getLogger(__name__)


def _label_values(col: pd.Series, col_name: str, ex: Examples) -> list[Any]:
    values = col.tolist()
    missing = [i for i, v in enumerate(values)
               if _missing(v) or (isinstance(v, str) and not v.strip())]
    if missing:
        raise DataError(f"{ex.source}: label column '{col_name}' is missing a value in "
                        f"{_rows(ex, missing)}. Label those rows or remove them.")
    # Multi-label label sets (next issue) are read here instead of refused.
    if any(isinstance(v, (list, tuple, dict, set)) for v in values):
        raise DataError(f"{ex.source}: label column '{col_name}' holds lists; multi-label data "
                        "is not supported yet. Use one label per row.")
    out = [_label(v) for v in values]
    kinds = {type(v) for v in out}
    if len(kinds) > 1:  # 1 and "neg" in one JSON column: one type, so classes sort
        log.warning("%s: label column '%s' mixes %s values; all labels are read as text.",
                    ex.source, col_name, " and ".join(sorted(k.__name__ for k in kinds)))
        out = [str(v) for v in out]
    return out


def _label(v: Any) -> Any:
    """One label as the user gave it: text keeps its spelling ("007" stays "007", never 7),
    numbers stay numbers. Only surrounding spaces go, and the 1.0 that a missing-value-capable
    column makes of 1 becomes 1 again."""
    if isinstance(v, str):
        return v.strip()
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def align_labels(ex: Examples, known: Sequence[Any]) -> list[Any]:
    """`ex.labels` as the model's own label values, or an error naming the unknown ones.

    The same value matches first; failing that, the same spelling, because one label reaches
    textune as 1 from JSON and as "1" from CSV. Spelling is never normalised: "07" is not "7".
    """
    known = list(known)
    exact = {(type(c), c) for c in known}
    by_text: dict[str, list] = {}
    for c in known:
        by_text.setdefault(str(c), []).append(c)
    out, bad = [], []
    for i, y in enumerate(ex.labels or []):
        if (type(y), y) in exact:
            out.append(y)
        elif len(by_text.get(str(y), ())) == 1:
            out.append(by_text[str(y)][0])
        else:
            bad.append(i)
    if bad:
        unseen = sorted({str(ex.labels[i]) for i in bad})
        raise DataError(
            f"{ex.source}: label(s) {_short(unseen)} in {_rows(ex, bad)} were not in the "
            f"training data; the model knows {known}. Evaluate on data with the same label "
            "set, or retrain with examples of these labels.")
    return out


def label_counts(ex: Examples) -> Counter:
    return Counter(ex.labels or [])
