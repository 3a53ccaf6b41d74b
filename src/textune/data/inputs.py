"""The public ways in: a file, a DataFrame, a `datasets.Dataset` or Python lists.

Each one turns its container into a frame and hands it to `from_frame`, so every entry point
validates and words its errors the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .columns import LABEL_NAMES, PAIR_NAMES, TEXT_NAMES, _guess_text_columns, _pick
from .errors import DataError, _idx
from .examples import Examples
from .readers import first_line_is_data, read_table
from .validation import from_frame

log = logging.getLogger(__name__)


def load_examples(source: Any, *, text_column: str | None = None,
                  text_pair_column: str | None = None, label_column: str | None = None,
                  require_labels: bool = True, quoting: str = "auto",
                  unescape_html: bool = False, multi_label: bool = False,
                  label_separator: str = ",", header: bool = True,
                  label_names: str | Path | Sequence[Any] | None = None,
                  allow_empty_labels: bool = False,
                  label_columns: Sequence[str] | None = None) -> Examples:
    """Read a file path, DataFrame or `datasets.Dataset` into validated `Examples`.

    Columns are detected by name (text/sentence/content..., label/class/...) or, failing that,
    by content; name them to override. Set `require_labels=False` for prediction inputs.
    `quoting` ("auto", "csv", "none") says how quote characters in CSV/TSV files are read;
    auto decides per file and logs why. `unescape_html` decodes entities such as &#039;.

    Multi-label data: list cells (JSONL, Parquet, DataFrames) are label sets as they are;
    `multi_label=True` also splits text cells at `label_separator`. `label_names` (a file
    with one name per line, or a list) is the label vocabulary in its order and maps integer
    ids to names; `allow_empty_labels` accepts rows with no label; `label_columns` reads one
    0/1 column per label (the label is the column's name). `header=False` reads a
    CSV/TSV without a header line, its columns named "0", "1", ... (GoEmotions:
    `header=False, text_column="0", label_column="1"`); columns named by position that the
    first line does not hold mean the same (`first_line_is_data`).
    """
    if isinstance(source, Examples):
        return source
    lines = None
    names = read_label_names(label_names)
    if isinstance(source, (str, Path)):
        path = Path(source)
        named = [text_column, text_pair_column, label_column, *(label_columns or [])]
        if header and first_line_is_data(path, named):
            log.warning("%s: its first line has no column named %s, so the file is read "
                        "without a header: line 1 is a data row and columns are numbered "
                        "(--no-header says so explicitly).", path,
                     " or ".join(repr(str(n)) for n in named if n is not None))
            header = False
        df, lines = read_table(path, quoting=quoting, unescape_html=unescape_html,
                               header=header)
        name = str(path)
    elif isinstance(source, pd.DataFrame):
        df, name = source, "<DataFrame>"
    elif _is_hf_dataset(source):
        df, name = source.to_pandas(), "<datasets.Dataset>"
    else:
        raise DataError(f"cannot read data from a {type(source).__name__}; pass a file path "
                        "(CSV, TSV, JSONL, Parquet), a pandas DataFrame, a datasets.Dataset, or "
                        "use Examples(texts=..., labels=...) for Python lists.")
    return from_frame(df, name, first_line=None, lines=lines, text_column=text_column,
                      text_pair_column=text_pair_column, label_column=label_column,
                      require_labels=require_labels, multi_label=multi_label,
                      label_separator=label_separator, label_names=names,
                      allow_empty_labels=allow_empty_labels, label_columns=label_columns)


def read_label_names(source: str | Path | Sequence[Any] | None) -> list[Any] | None:
    """A label-names file (one name per line; line k names id k) or a list, as a list."""
    if source is None or isinstance(source, (list, tuple)):
        return None if source is None else list(source)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: label names file not found; pass a file with one label "
                        "name per line (line 1 names label id 0).")
    names = path.read_text(encoding="utf-8-sig").splitlines()
    while names and not names[-1].strip():
        names.pop()  # an editor's trailing newlines
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank or not names:
        raise DataError(f"{path}: " + (f"line(s) {blank[:5]} are blank" if blank else "empty")
                        + "; write one label name per line.")
    dupes = sorted({n.strip() for n in names if [m.strip() for m in names].count(n.strip()) > 1})
    if dupes:
        raise DataError(f"{path}: label name(s) {dupes[:5]} appear more than once; each "
                        "line names one label.")
    return [n.strip() for n in names]


def coerce_inputs(X: Any, y: Any = None, what: str = "input", *,
                  with_labels: bool = True) -> Examples:
    """Every API entry's inputs as `Examples`, whatever container they come in.

    X: `Examples`; a list, tuple, numpy array or pandas Series of texts or (text, text_pair)
    tuples; a 2-column array of pairs; a DataFrame or `datasets.Dataset` (text columns by
    name, or its only column; with no `y`, labels from its label column). `with_labels=False`
    (prediction) ignores any label column.
    """
    if isinstance(X, Examples):
        if y is not None:
            raise DataError(f"{what}: Examples carry their own labels; do not pass y as well.")
        return X
    if isinstance(X, (str, bytes, Path)):
        raise DataError(f"{what}: got {type(X).__name__} {str(X)[:60]!r} where a list of texts "
                        "was expected. Wrap one text in a list ([text]); load files with "
                        "textune.load_examples(path).")
    if isinstance(X, (set, frozenset, dict)):
        raise DataError(f"{what}: a {type(X).__name__} has no row order; pass a list of texts.")
    if _is_hf_dataset(X):
        X = X.to_pandas()
    pairs = None
    if isinstance(X, pd.DataFrame):
        if y is None and with_labels:
            return from_frame(X, what, first_line=None, text_column=None,
                              text_pair_column=None, label_column=None, require_labels=True)
        X, pairs = _frame_texts(X, what)
    elif hasattr(X, "ndim") and hasattr(X, "tolist"):  # numpy arrays, pandas Series
        if X.ndim == 2 and X.shape[1] != 2 or X.ndim > 2:
            raise DataError(f"{what}: an array of shape {X.shape}; pass one text per row, or "
                            "two columns (text, text_pair).")
        X = X.tolist()
    labels, names = None, None
    if with_labels and y is not None:
        if isinstance(y, (str, bytes)):
            raise DataError(f"{what}: y is one string; pass one label per text.")
        if getattr(y, "ndim", 1) == 2:  # an indicator matrix (MultiLabelBinarizer's)
            labels, names = _indicator_rows(y, what), list(range(y.shape[1]))
        else:
            labels = y.tolist() if hasattr(y, "tolist") else list(y)
    return from_lists(X, labels, pairs, source=what, label_names=names)


def _indicator_rows(y: Any, what: str) -> list[list[int]]:
    """The column indices set in each row of a 0/1 matrix."""
    import numpy as np

    y = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
    bad = np.flatnonzero(~np.isin(y, (0, 1)).all(axis=1))
    if len(bad):
        raise DataError(f"{what}: y is a matrix, read as a label indicator matrix (one 0/1 "
                        f"column per label), but rows {_idx(bad.tolist())} hold other values. "
                        "Pass 0/1 columns, or a list of label lists.")
    return [np.flatnonzero(row).tolist() for row in y]


def _frame_texts(df: pd.DataFrame, what: str) -> tuple[list, list | None]:
    """(texts, text_pairs) of a frame: its only column, or text columns found by name or
    content; a label column is never taken for text."""
    cols = [str(c) for c in df.columns]
    frame = df.set_axis(cols, axis=1)
    if len(cols) == 1:
        return frame[cols[0]].tolist(), None
    text = _pick(cols, None, TEXT_NAMES, what, "text", "--text-column")
    pair = _pick(cols, None, PAIR_NAMES, what, "second text", "--text-pair-column")
    if text is None:
        label = _pick(cols, None, LABEL_NAMES, what, "label", "--label-column")
        text, pair = _guess_text_columns(frame, exclude={label}, name=what)
    return frame[text].tolist(), None if pair is None else frame[pair].tolist()


def from_lists(texts: Sequence[Any], labels: Sequence[Any] | None = None,
               text_pairs: Sequence[Any] | None = None, source: str = "<input>", *,
               label_names: Sequence[Any] | None = None) -> Examples:
    """Validate Python lists (texts, or `(text, text_pair)` tuples) into `Examples`; labels
    that are lists make label sets (multi-label)."""
    if isinstance(texts, str):
        raise DataError(f"{source}: got one string where a list of texts was expected; "
                        "wrap it in a list: [text].")
    texts = list(texts)
    if text_pairs is None and texts and any(isinstance(t, (tuple, list)) for t in texts):
        bad = [i for i, t in enumerate(texts) if not isinstance(t, (tuple, list)) or len(t) != 2]
        if bad:
            raise DataError(f"{source}: rows {_idx(bad)} are not (text, text_pair) pairs of "
                            "length 2.")
        text_pairs = [t[1] for t in texts]
        texts = [t[0] for t in texts]
    frame = {"text": texts}
    if text_pairs is not None:
        frame["text_pair"] = list(text_pairs)
    if labels is not None:
        frame["label"] = list(labels)
    return from_frame(pd.DataFrame(frame, dtype=object), source, first_line=None,
                      text_column="text",
                      text_pair_column="text_pair" if text_pairs is not None else None,
                      label_column="label" if labels is not None else None,
                      require_labels=labels is not None, label_names=label_names,
                      allow_empty_labels=label_names is not None)


def _is_hf_dataset(obj: Any) -> bool:
    return type(obj).__module__.startswith("datasets") and hasattr(obj, "to_pandas")
