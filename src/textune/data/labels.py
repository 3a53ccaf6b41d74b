"""Labels: read them as the user wrote them, and match them to a model's classes.

One label column holds one label per row, or for multi-label data a set of labels per row
(a JSON list, or text split at a separator), optionally as ids into a list of label names.
Reading, checking and matching labels stay in this one place.
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
    if any(isinstance(v, dict) for v in values):
        raise DataError(f"{ex.source}: label column '{col_name}' holds objects; use one label, "
                        "or a list of labels, per row.")
    out = [_label(v) for v in values]
    kinds = {type(v) for v in out}
    if len(kinds) > 1:  # 1 and "neg" in one JSON column: one type, so classes sort
        log.warning("%s: label column '%s' mixes %s values; all labels are read as text.",
                    ex.source, col_name, " and ".join(sorted(k.__name__ for k in kinds)))
        out = [str(v) for v in out]
    return out


def is_label_list(v: Any) -> bool:
    """A cell holding several labels as a container (JSON list, tuple, array, set)."""
    return isinstance(v, (list, tuple, set, frozenset)) or (
        hasattr(v, "ndim") and getattr(v, "ndim", 0) == 1)


def _label_sets(col: pd.Series, col_name: str, ex: Examples, *, separator: str,
                names: Sequence[Any] | None) -> list[tuple]:
    """One tuple of labels per row: list cells as they are, text cells split at `separator`
    (an empty cell is a row with no label); with `names`, integer ids become names."""
    if names is not None:
        bad = [n for n in names if separator in str(n)]
        if bad:
            raise DataError(f"{ex.source}: label name(s) {_short([str(n) for n in bad])} contain "
                            f"the separator {separator!r}, so label cells cannot be split "
                            "unambiguously. Choose another --label-separator.")
    rows: list[tuple] = []
    blank_piece: list[int] = []
    for i, v in enumerate(col.tolist()):
        if is_label_list(v):
            items = [_label(x) for x in list(v)]
        elif _missing(v) or (isinstance(v, str) and not v.strip()):
            items = []
        elif isinstance(v, str):
            items = [_label(x) for x in v.split(separator)]
            if any(x == "" for x in items):
                blank_piece.append(i)
        else:
            items = [_label(v)]
        rows.append(tuple(dict.fromkeys(items)))
    if blank_piece:
        raise DataError(f"{ex.source}: label column '{col_name}' has an empty label between "
                        f"separators ({separator!r}) in {_rows(ex, blank_piece)}. Remove the "
                        "extra separator.")
    if names is not None:
        rows = _named(rows, list(names), col_name, ex)
    return rows


def _named(rows: list[tuple], names: list, col_name: str, ex: Examples) -> list[tuple]:
    """Ids (0, "3") to names when every label is an id; else labels must be names."""
    def as_id(x):
        if isinstance(x, int) and not isinstance(x, bool):
            return x
        return int(x) if isinstance(x, str) and x.isdigit() else None

    flat = [x for row in rows for x in row]
    if flat and all(as_id(x) is not None for x in flat) and not set(map(str, flat)) <= set(
            map(str, names)):
        out_of_range = [i for i, row in enumerate(rows)
                        if any(not 0 <= as_id(x) < len(names) for x in row)]
        if out_of_range:
            ids = sorted({as_id(x) for i in out_of_range for x in rows[i]
                          if not 0 <= as_id(x) < len(names)})
            raise DataError(f"{ex.source}: label column '{col_name}' holds label id(s) {ids} in "
                            f"{_rows(ex, out_of_range)}, but the label names list "
                            f"{len(names)} labels (ids 0-{len(names) - 1}). Check that the "
                            "names file belongs to this data.")
        return [tuple(names[k] for k in sorted({as_id(x) for x in row})) for row in rows]
    known = {str(n): n for n in names}
    unknown = [i for i, row in enumerate(rows) if any(str(x) not in known for x in row)]
    if unknown:
        bad = sorted({str(x) for i in unknown for x in rows[i] if str(x) not in known})
        raise DataError(f"{ex.source}: label(s) {_short(bad)} in {_rows(ex, unknown)} are not "
                        f"among the label names ({_short([str(n) for n in names])}). Fix the "
                        "labels or the names file.")
    order = {str(n): j for j, n in enumerate(names)}
    return [tuple(sorted((known[str(x)] for x in row), key=lambda n: order[str(n)]))
            for row in rows]


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

    def match(y):
        if (type(y), y) in exact:
            return y
        if len(by_text.get(str(y), ())) == 1:
            return by_text[str(y)][0]
        raise KeyError(y)

    out, bad, unseen_labels = [], [], set()
    for i, y in enumerate(ex.labels or []):
        try:
            out.append(tuple(match(v) for v in y) if ex.multi_label else match(y))
        except KeyError as e:
            bad.append(i)
            unseen_labels.add(str(e.args[0]))
    if bad:
        unseen = sorted(unseen_labels)
        raise DataError(
            f"{ex.source}: label(s) {_short(unseen)} in {_rows(ex, bad)} were not in the "
            f"training data; the model knows {known}. Evaluate on data with the same label "
            "set, or retrain with examples of these labels.")
    return out


def label_counts(ex: Examples) -> Counter:
    """Rows per label (for label sets, a row counts once for each of its labels)."""
    if ex.multi_label:
        return Counter(c for row in ex.labels or [] for c in row)
    return Counter(ex.labels or [])
