"""A frame of strings-as-written in, validated `Examples` out.

Every input (files, DataFrames, `datasets`, Python lists, streamed chunks) passes through
`from_frame`, so validation and its messages live once.
"""

from __future__ import annotations

import functools
import logging
import sys
import unicodedata
from typing import Any, Sequence

import pandas as pd

from .columns import LABEL_NAMES, PAIR_NAMES, TEXT_NAMES, _guess_text_columns, _pick
from .errors import DataError, _missing, _rows
from .examples import Examples
from .labels import _label_sets, _label_values, is_label_list

log = logging.getLogger(__name__)


def from_frame(df: pd.DataFrame, name: str, *, first_line: int | None,
               text_column: str | None, text_pair_column: str | None,
               label_column: str | None, require_labels: bool,
               lines: list[int] | None = None, row_offset: int = 0,
               read_labels: bool = True, multi_label: bool = False,
               label_separator: str = ",", label_names: Sequence[Any] | None = None,
               allow_empty_labels: bool = False,
               label_columns: Sequence[str] | None = None) -> Examples:
    """Validated `Examples` from a frame. `lines` (file line per row) and `row_offset` (rows
    in earlier chunks) only make messages exact; `read_labels=False` (prediction) never reads
    a label column, which is still kept out of the text columns. Label sets: `multi_label`
    splits text cells at `label_separator` (list cells are label sets anyway);
    `label_names` is the vocabulary, and maps integer ids to names; `label_columns` are one
    0/1 column per label, named for it."""
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    if len(df) == 0:
        raise DataError(f"{name}: no data rows (columns: {columns}).")
    indicators = [_pick(columns, c, (), name, "label", "--label-columns")
                  for c in label_columns or []]
    if indicators and label_column is not None:
        raise DataError(f"{name}: give either --label-column (labels in one column) or "
                        "--label-columns (one 0/1 column per label), not both.")
    label_col = None if indicators else _pick(columns, label_column, LABEL_NAMES, name,
                                              "label", "--label-column")
    text_col = _pick(columns, text_column, TEXT_NAMES, name, "text", "--text-column")
    pair_col = _pick(columns, text_pair_column, PAIR_NAMES if text_column is None else (),
                     name, "second text", "--text-pair-column")
    if text_col is None:
        text_col, pair_col = _guess_text_columns(df, exclude={label_col, *indicators},
                                                 name=name)
    if label_col is None and not indicators and require_labels:
        raise DataError(f"{name}: cannot tell which column holds the labels; columns are "
                        f"{columns}. Name it with --label-column (label_column=...).")
    if not read_labels:
        label_col, indicators = None, []
    ex = Examples(texts=[], source=name, first_line=first_line, lines=lines,
                  row_offset=row_offset,
                  columns={"text": text_col, "label": label_col or "", "pair": pair_col or ""})
    ex.texts = _text_values(df[text_col], text_col, ex)
    if pair_col is not None:
        ex.text_pairs = _text_values(df[pair_col], pair_col, ex)
    if indicators:
        ex.multi_label, ex.allow_empty_labels = True, allow_empty_labels
        ex.columns["label"] = ",".join(indicators)
        ex.labels = _indicator_columns(df, indicators, ex)
        ex.label_names = list(indicators)
    elif label_col is not None:
        col = df[label_col]
        if multi_label or label_names is not None or any(is_label_list(v) for v in col.tolist()):
            ex.multi_label, ex.allow_empty_labels = True, allow_empty_labels
            ex.labels = _label_sets(col, label_col, ex, separator=label_separator,
                                    names=label_names)
            ex.label_names = list(label_names) if label_names is not None else None
        else:
            ex.labels = _label_values(col, label_col, ex)
    log.debug("%s: %d rows; text=%r pair=%r label=%r", name, len(ex), text_col, pair_col, label_col)
    n_dup = len(ex) - len(set(ex.keys()))
    if n_dup:
        log.info("%s: %d of %d rows repeat an earlier text%s; they are kept here and removed "
                 "before contrastive training.", name, n_dup, len(ex),
                 " pair" if pair_col else "")
    return ex


def is_empty_text(text: str) -> bool:
    """True when a text holds nothing to classify: only whitespace and invisible format
    characters (Unicode category Cf: zero-width space U+200B, word joiner U+2060, BOM U+FEFF,
    ...), which a model would otherwise label as confidently as real text. The one
    definition of an empty text: files, Python lists, batches, runtimes and the HTTP service
    all ask it. A text with any other character is not empty and is classified as written."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


@functools.cache
def non_empty_text_pattern() -> str:
    """A regular expression that a text matches when `is_empty_text` says it is not empty
    (one character that is neither whitespace nor Cf), for the HTTP service's OpenAPI spec.
    Written with \\uXXXX escapes (characters beyond U+FFFF as themselves), which both Python
    and ECMAScript read."""
    invisible = [c for c in range(sys.maxunicode + 1)
                 if chr(c).isspace() or unicodedata.category(chr(c)) == "Cf"]
    runs: list[list[int]] = []
    for c in invisible:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])

    def char(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else chr(c)

    return "[^" + "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in runs) + "]"


_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no"}


def _flag(v: Any) -> bool | None:
    """An indicator cell as True/False (1/0, true/false, yes/no; 1.0 from a column with
    missing values), or None when it is neither."""
    word = "" if _missing(v) else str(v).strip().lower().removesuffix(".0")
    return True if word in _TRUE else False if word in _FALSE else None


def _indicator_columns(df: pd.DataFrame, names: list[str], ex: Examples) -> list[tuple]:
    """One 0/1 column per label (1/0, true/false, yes/no) -> the labels set in each row."""
    sets: list[list[str]] = [[] for _ in range(len(df))]
    for name in names:
        flags = [_flag(v) for v in df[name].tolist()]
        bad = [i for i, f in enumerate(flags) if f is None]
        if bad:
            raise DataError(f"{ex.source}: label column '{name}' must hold 0 or 1 (or "
                            f"true/false), but {_rows(ex, bad)} hold(s) "
                            f"{df[name].tolist()[bad[0]]!r}. Fix those cells, or drop the "
                            "column from --label-columns.")
        for i, f in enumerate(flags):
            if f:
                sets[i].append(name)
    return [tuple(s) for s in sets]


def _text_values(col: pd.Series, col_name: str, ex: Examples) -> list[str]:
    values = col.tolist()
    not_str = [i for i, v in enumerate(values) if not isinstance(v, str) and not _missing(v)]
    if not_str:
        v = values[not_str[0]]
        raise DataError(f"{ex.source}: column '{col_name}' must hold text, but {_rows(ex, not_str)}"
                        f" hold(s) other values (e.g. {v!r}, a {type(v).__name__}). Convert them "
                        "to strings or fix the column choice.")
    empty = [i for i, v in enumerate(values) if _missing(v) or is_empty_text(v)]
    if empty:
        raise DataError(f"{ex.source}: column '{col_name}' is empty in {_rows(ex, empty)} "
                        "(nothing but whitespace or invisible characters such as U+200B). "
                        "Fill in or remove those rows (textune never drops rows silently).")
    return values
