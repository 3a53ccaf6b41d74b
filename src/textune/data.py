"""Labelled texts in, one validated `Examples` out.

Every reader ends in the same place so that validation, and its error messages, live once.
Errors name the source, the row and the column, and say what to do: a user with a broken
CSV should never have to read a pandas or torch traceback.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import html
import io
import itertools
import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence, TextIO

import pandas as pd

log = logging.getLogger(__name__)

LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "sentiment", "quality",
               "intent", "topic", "gold_label")
TEXT_NAMES = ("text", "sentence", "content", "review", "document", "body", "utterance",
              "message", "comment", "tweet", "question", "premise", "sentence1", "text_a",
              "question1", "query")
PAIR_NAMES = ("text_pair", "sentence2", "text_b", "hypothesis", "question2", "answer",
              "passage")
MAX_LISTED = 5


class DataError(ValueError):
    """Bad input data. The message names the source, the row/column and the fix."""


@dataclass
class Examples:
    """Texts (or text pairs) with optional labels, plus where they came from.

    `labels` keeps the user's own values (ints or strings); `classes` is their sorted set,
    the same order scikit-learn uses for `classes_`.
    """

    texts: list[str]
    labels: list[Any] | None = None
    text_pairs: list[str] | None = None
    source: str = "<data>"
    first_line: int | None = None  # file line of the first data row, for messages
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name, for messages
    lines: list[int] | None = None  # file line of each row (quoted rows can span lines)
    row_offset: int = 0  # rows before this chunk of a streamed file, for messages

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.labels is not None and len(self.labels) != n:
            raise DataError(f"{self.source}: {n} texts but {len(self.labels)} labels; "
                            "pass one label per text.")
        if self.text_pairs is not None and len(self.text_pairs) != n:
            raise DataError(f"{self.source}: {n} texts but {len(self.text_pairs)} second texts; "
                            "pass one text pair per text.")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def is_pair(self) -> bool:
        return self.text_pairs is not None

    @property
    def classes(self) -> list[Any]:
        return sorted(set(self.labels or []))

    def where(self, i: int) -> str:
        """Human location of row i (0-based) for error messages."""
        if self.lines is not None:
            line = f" (line {self.lines[i]})"
        elif self.first_line is not None:
            line = f" (line {i + self.first_line})"
        else:
            line = ""
        i += self.row_offset
        return f"row {i + 1}{line}"

    def subset(self, idx: Sequence[int]) -> "Examples":
        return Examples(
            texts=[self.texts[i] for i in idx],
            labels=None if self.labels is None else [self.labels[i] for i in idx],
            text_pairs=None if self.text_pairs is None else [self.text_pairs[i] for i in idx],
            source=self.source, first_line=None, columns=self.columns)

    def inputs(self) -> list[str] | list[tuple[str, str]]:
        """The inputs in the shape `TextClassifier.predict` takes."""
        if self.text_pairs is None:
            return list(self.texts)
        return list(zip(self.texts, self.text_pairs))

    def keys(self) -> list[str | tuple[str, str]]:
        return self.texts if self.text_pairs is None else list(zip(self.texts, self.text_pairs))

    def deduplicated(self) -> tuple["Examples", int, int]:
        """Drop repeated inputs (first occurrence wins).

        Returns (examples, n_dropped, n_conflicting) where conflicting counts inputs that
        appear with more than one label; those keep their first label.
        """
        seen: dict[Any, int] = {}
        conflicts: set[Any] = set()
        keep: list[int] = []
        labels = self.labels or [None] * len(self)
        for i, key in enumerate(self.keys()):
            if key in seen:
                if labels[seen[key]] != labels[i]:
                    conflicts.add(key)
                continue
            seen[key] = i
            keep.append(i)
        return self.subset(keep), len(self) - len(keep), len(conflicts)

    def require_labels(self, min_classes: int = 2) -> None:
        if self.labels is None:
            raise DataError(f"{self.source}: no labels. Name the label column with "
                            "--label-column (or label_column=...).")
        classes = self.classes
        if len(classes) < min_classes:
            col = self.columns.get("label", "label")
            raise DataError(
                f"{self.source}: column '{col}' holds only one class ({classes[0]!r}) in "
                f"{len(self)} rows; a classifier needs at least two. Check that you picked the "
                "right label column and that the file was not filtered to one class.")

    def check_known_labels(self, known: Sequence[Any]) -> None:
        """Raise if labels here were not seen in training (an evaluation set mistake)."""
        if self.labels is not None:
            align_labels(self, known)


# --------------------------------------------------------------------------------------------
# Public entry points


def load_examples(source: Any, *, text_column: str | None = None,
                  text_pair_column: str | None = None, label_column: str | None = None,
                  require_labels: bool = True, quoting: str = "auto",
                  unescape_html: bool = False) -> Examples:
    """Read a file path, DataFrame or `datasets.Dataset` into validated `Examples`.

    Columns are detected by name (text/sentence/content..., label/class/...) or, failing that,
    by content; name them to override. Set `require_labels=False` for prediction inputs.
    `quoting` ("auto", "csv", "none") says how quote characters in CSV/TSV files are read;
    auto decides per file and logs why. `unescape_html` decodes entities such as &#039;.
    """
    if isinstance(source, Examples):
        return source
    lines = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        df, lines = read_table(path, quoting=quoting, unescape_html=unescape_html)
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
                      require_labels=require_labels)


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
    labels = None
    if with_labels and y is not None:
        if isinstance(y, (str, bytes)):
            raise DataError(f"{what}: y is one string; pass one label per text.")
        labels = y.tolist() if hasattr(y, "tolist") else list(y)
    return from_lists(X, labels, pairs, source=what)


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
               text_pairs: Sequence[Any] | None = None, source: str = "<input>") -> Examples:
    """Validate Python lists (texts, or `(text, text_pair)` tuples) into `Examples`."""
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
                      require_labels=labels is not None)


# --------------------------------------------------------------------------------------------
# Files

QUOTING_CHOICES = ("auto", "none", "csv")
_QUOTING = {"none": csv.QUOTE_NONE, "csv": csv.QUOTE_MINIMAL}
_QUOTING_NAME = {v: k for k, v in _QUOTING.items()}
SNIFF_CHARS = 1 << 16  # the delimiter is guessed from this much text; quoting from all of it
# A piece of a CSV-quoted field, cut at separators and line breaks when quotes are read as
# text: quotes only at its ends or doubled. 'the "best" film' is not one.
_QUOTED_PIECE = re.compile(r'"?(?:[^"]|"")*"?', re.S)
_HTML_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")
_BOMS = ("\ufeff", "\u00ef\u00bb\u00bf")  # a UTF-8 BOM, decoded as UTF-8 or as latin-1

OpenText = Callable[[str], TextIO]  # open_text(newline): the decoded file from its start


class CsvDialect(NamedTuple):
    delimiter: str
    quoting: int  # csv.QUOTE_NONE or csv.QUOTE_MINIMAL
    newline: str  # "\n": records end at \n or \r\n; "": also at a lone \r (old Mac files)


def read_table(path: Path, *, quoting: str = "auto",
               unescape_html: bool = False) -> tuple[pd.DataFrame, list[int] | None]:
    """Read CSV/TSV/JSONL/JSON/Parquet as strings-as-written.

    Returns (frame, lines): lines[i] is the file line where row i starts (None for Parquet
    and JSON arrays). No row is ever skipped: a blank line of a one-column file is an empty
    text, which validation reports by its line.
    """
    kind = file_kind(path)
    if kind in (".parquet", ".pq"):
        try:
            df, lines = pd.read_parquet(path), None
        except Exception as e:  # pyarrow raises many types; all mean "not a readable parquet"
            raise DataError(f"{path}: not a readable Parquet file ({e}).") from e
    else:
        text = _decode(path)
        if kind in (".jsonl", ".ndjson"):
            df, lines = _read_jsonl(text, path)
        elif kind == ".json" and text.lstrip().startswith("["):
            df, lines = _read_json_array(text, path), None
        elif kind == ".json":
            df, lines = _read_jsonl(text, path)
        else:
            df, lines = _read_delimited(lambda nl: io.StringIO(text, newline=nl), path,
                                        quoting)
    return html_entities(df, str(path), unescape_html), lines


def file_kind(path: Path) -> str:
    """The format suffix (".csv", ".jsonl", ...; ".gz" looked through), or a clear error."""
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path (relative paths start at "
                        f"{Path.cwd()}).")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; pass a CSV, TSV, JSONL or Parquet file.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _read_json_array(text: str, path: Path) -> pd.DataFrame:
    try:
        return pd.DataFrame(json.loads(text))
    except (json.JSONDecodeError, ValueError) as e:
        raise DataError(f"{path}: not valid JSON ({e}). Use a list of objects or "
                        "JSON Lines (one object per line).") from e


def _read_delimited(open_text: OpenText, path: Path,
                    quoting: str) -> tuple[pd.DataFrame, list[int]]:
    return next(csv_frames(open_text, path, csv_dialect(path, open_text, quoting),
                           chunk_size=None))


def csv_dialect(path: Path, open_text: OpenText, quoting: str = "auto") -> CsvDialect:
    """How to read a delimited file: delimiter, quoting and line ends.

    The delimiter comes from the suffix (.tsv) or the first lines. With quoting="auto" the
    whole file is parsed both ways, with quotes as CSV quoting and as plain text, and the
    reading that fits is kept (see `_choose_quoting`); the choice and why are logged.
    A lone CR ends a record only in files that have no LF at all; elsewhere it is an error
    (an unquoted CR inside a field, as pandas writes under Python < 3.12), never a row split.
    """
    if quoting not in QUOTING_CHOICES:
        raise DataError(f"unknown quoting '{quoting}'; choose one of {list(QUOTING_CHOICES)}.")
    with open_text("") as f:
        head = f.read(SNIFF_CHARS)
        truncated = bool(f.read(1))
    if not head.strip():
        raise DataError(f"{path}: the file is empty.")
    newline = "" if "\r" in head and "\n" not in head else "\n"
    delimiter = "\t" if file_kind(path) == ".tsv" else _sniff_delimiter(head, truncated,
                                                                        newline)
    if quoting != "auto":
        return CsvDialect(delimiter, _QUOTING[quoting], newline)
    with open_text(newline) as f:
        literal = _scan(f, delimiter, csv.QUOTE_NONE)
    with open_text(newline) as f:
        quoted = _scan(f, delimiter, csv.QUOTE_MINIMAL)
    choice, why = _choose_quoting(literal, quoted, delimiter)
    log.info("%s: reading quotes with --quoting %s: %s.", path, choice, why)
    return CsvDialect(delimiter, _QUOTING[choice], newline)


@dataclass
class _Scan:
    """How well one quoting mode reads a file."""

    ok: bool = True  # parsed, and every row has the header's field count
    problem: str = ""  # why not, for the log
    quote_starts: int = 0  # fields beginning with '"' (counted when quotes are plain text)
    quotes_at_edges: bool = True  # every '"' is at a field's start or end, or doubled


def _scan(f: TextIO, delimiter: str, quoting: int) -> _Scan:
    """Read the whole file once in one quoting mode, keeping only the evidence."""
    scan = _Scan()
    reader = csv.reader(f, delimiter=delimiter, quoting=quoting, strict=True)
    width = None
    try:
        for fields in reader:
            if quoting == csv.QUOTE_NONE:  # before the width check: the evidence on this line
                for value in fields:
                    scan.quote_starts += value[:1] == '"'
                    if scan.quotes_at_edges and '"' in value and \
                            not _QUOTED_PIECE.fullmatch(value):
                        scan.quotes_at_edges = False
            if width is None:
                width = len(fields)
            elif fields and len(fields) != width:
                scan.ok, scan.problem = False, (f"line {reader.line_num} has {len(fields)} "
                                                f"fields where the header has {width}")
                return scan
    except csv.Error as e:
        scan.ok, scan.problem = False, f"line {reader.line_num}: {e}"
    return scan


def _choose_quoting(literal: _Scan, quoted: _Scan, delimiter: str) -> tuple[str, str]:
    """Pick 'csv' or 'none' from how each reading fits; (choice, reason for the log).

    Quotes only matter where a field starts with one. CSV quoting wins when it reads every
    row with the header's field count and either reading quotes as text does not, or every
    quote character sits where a CSV writer puts them (at a field's start or end, or
    doubled). Otherwise quotes are text (MRPC's stray '"' must never merge rows).
    """
    default = "none" if delimiter == "\t" else "csv"
    if not literal.quote_starts:
        return default, "no field starts with a quote, so both readings agree"
    if quoted.ok and not literal.ok:
        return "csv", f"quoted fields hold separators or line breaks ({literal.problem} " \
                      "if quotes were plain text)"
    if quoted.ok and literal.quotes_at_edges:
        return "csv", f"{literal.quote_starts} fields start with a quote and every quote is " \
                      "at a field's edge or doubled, as CSV quoting writes them"
    if literal.ok:
        reason = quoted.problem or "some quotes sit inside words, as in plain text"
        return "none", f"quotes are plain text ({reason} if read as CSV quoting)"
    return default, f"neither reading fits ({literal.problem} as plain text; {quoted.problem} " \
                    "with CSV quoting)"


def csv_frames(open_text: OpenText, path: Path, dialect: CsvDialect, *,
               chunk_size: int | None) -> Iterator[tuple[pd.DataFrame, list[int]]]:
    """(frame, file line of each row) per chunk of `chunk_size` rows (None: one frame).

    Every record becomes a row; a blank line is a row of empty cells (an empty text, which
    validation reports) unless, in a file of 2+ columns, only blank lines follow it to the end
    (an editor's trailing newlines; a writer puts delimiters in an empty row of 2+ columns),
    and a row whose field count differs from the header's is an error
    naming its line: nothing is dropped, merged or padded silently.
    """
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with open_text(dialect.newline) as f:
        yield from _frames(csv.reader(f, delimiter=dialect.delimiter, quoting=dialect.quoting,
                                      strict=True), path, dialect, chunk_size)


def _frames(reader, path: Path, dialect: CsvDialect, chunk_size: int | None):
    delimiter, quoting = dialect.delimiter, dialect.quoting
    rows: list[list[str]] = []
    lines: list[int] = []
    emitted = False
    try:
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: line 1 is blank; the first line must be the header (the "
                            "column names)." if header == [] else f"{path}: the file is empty.")
        columns = _header_names(header)
        width = len(columns)
        start = reader.line_num + 1
        blank: list[int] = []  # blank lines become rows only if a record follows them
        for fields in reader:
            if not fields and width > 1:
                blank.append(start)
                start = reader.line_num + 1
                continue
            fields = fields or [""]  # one column: an unquoted writer writes "" as a blank line
            if len(fields) != width:
                raise csv_parse_error(path, delimiter, f"line {start} has {len(fields)} "
                                      f"fields where the header has {width}", quoting)
            rows.extend([[""] * width for _ in blank] + [fields])
            lines.extend(blank + [start])
            blank = []
            start = reader.line_num + 1
            if chunk_size is not None and len(rows) >= chunk_size:
                yield pd.DataFrame(rows, columns=columns, dtype=object), lines
                rows, lines, emitted = [], [], True
    except csv.Error as e:
        why = str(e)
        if "new-line character" in why:
            why = "a carriage return (\\r) inside an unquoted field; quote the field"
        raise csv_parse_error(path, delimiter, f"line {reader.line_num}: {why}", quoting) from e
    if blank:  # an editor's trailing empty lines end the file; they are not rows
        log.debug("%s: %d blank line(s) at the end of the file ignored", path, len(blank))
    if rows or not emitted:
        yield pd.DataFrame(rows, columns=columns, dtype=object), lines


def _header_names(header: list[str]) -> list[str]:
    """Column names as pandas would make them: BOM removed, blanks and repeats renamed."""
    names = list(header)
    for bom in _BOMS:
        names[0] = names[0].removeprefix(bom)
    out: list[str] = []
    for j, name in enumerate(names):
        name = base = name or f"Unnamed: {j}"
        k = 0
        while name in out:
            k += 1
            name = f"{base}.{k}"
        out.append(name)
    return out


def csv_parse_error(path: Path, delimiter: str, e: Exception | str,
                    quoting: int | None = None) -> DataError:
    tsv = delimiter == "\t"
    hint = ""
    if quoting is not None:
        other = "none" if quoting == csv.QUOTE_MINIMAL else "csv"
        hint = (f" It was read with --quoting {_QUOTING_NAME.get(quoting, '?')}; if quote "
                f"characters are {'plain text' if other == 'none' else 'CSV quoting'} in "
                f"this file, pass --quoting {other}.")
    return DataError(f"{path}: could not parse as {'TSV' if tsv else 'CSV'} ({e}). Check that "
                     f"every row has the same number of {'tabs' if tsv else 'separators'} as "
                     f"the header.{hint}")


def html_entities(df: pd.DataFrame, source: str, unescape: bool,
                  seen: set | None = None) -> pd.DataFrame:
    """Log HTML entities (&#039;, &amp;) once per source; decode them only when asked.

    They are kept as written by default: a model trained on them predicts on them too.
    `seen` collects sources already reported (streamed files call this per chunk).
    """
    text_cols = [j for j, col in enumerate(df.columns)
                 if df[col].dtype == object or pd.api.types.is_string_dtype(df[col])]
    cells = [(j, i) for j in text_cols for i, v in enumerate(df.iloc[:, j].tolist())
             if isinstance(v, str) and "&" in v and _HTML_ENTITY.search(v)]
    if not cells:
        return df
    if seen is None or source not in seen:
        j, i = cells[0]
        example = _HTML_ENTITY.search(df.iat[i, j]).group()
        log.info("%s: %d cells hold HTML entities (e.g. %s in column '%s'); %s.", source,
                 len(cells), example, df.columns[j], "decoding them (--unescape-html)"
                 if unescape else "kept as written; pass --unescape-html to decode them")
        if seen is not None:
            seen.add(source)
    if not unescape:
        return df
    df = df.copy()
    for j, i in cells:
        df.iat[i, j] = html.unescape(df.iat[i, j])
    return df


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        log.warning("%s is not valid UTF-8 (byte %d); reading it as latin-1. Re-save it as "
                    "UTF-8 if characters look wrong.", path, e.start)
        return raw.decode("latin-1")


SEPARATORS = ",\t;|"


def _sniff_delimiter(head: str, truncated: bool = False, newline: str = "\n") -> str:
    """The separator that gives the header several fields and every row as many.

    Each of , TAB ; | is tried with quotes as CSV quoting and as plain text; among those that
    fit, the one giving the most columns wins (ties in that order). Failing that, a header
    with separators keeps its most common one (ragged rows are then an error naming the
    line), and a one-column file takes a separator that splits none of its rows.
    """
    fits = {}
    for d in SEPARATORS:
        for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_NONE):
            widths = _row_widths(head, d, quoting, truncated, newline)
            if widths and len(set(widths)) == 1:
                fits[d] = widths[0]
                break
    several = {d: w for d, w in fits.items() if w > 1}
    if several:
        return max(several, key=lambda d: (several[d], -SEPARATORS.index(d)))
    first = re.split(r"\r\n|\r|\n", head, maxsplit=1)[0]
    counts = {d: first.count(d) for d in SEPARATORS}
    if max(counts.values()):
        return max(counts, key=counts.get)
    return next((d for d in SEPARATORS if d in fits), ",")


def _row_widths(head: str, delimiter: str, quoting: int, truncated: bool, newline: str,
                limit: int = 200) -> list[int] | None:
    """Field counts of the first non-blank records of `head`; None if it does not parse."""
    reader = csv.reader(io.StringIO(head, newline=newline), delimiter=delimiter,
                        quoting=quoting, strict=True)
    widths: list[int] = []
    try:
        for fields in itertools.islice(reader, limit):
            if fields:
                widths.append(len(fields))
    except csv.Error:
        if not truncated:  # a record cut by the end of the sample is not evidence
            return None
    if truncated and widths and reader.line_num and len(widths) < limit:
        widths.pop()
    return widths


def jsonl_record(line: str, lineno: int, path: Path) -> dict | None:
    """One JSON Lines record (None for a blank line), or an error naming the line."""
    if not line.strip(" \t\r\n"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {lineno} is not valid JSON ({e.msg}). Each line "
                        "must be one JSON object.") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: line {lineno} is a JSON {type(obj).__name__}, not an "
                        'object; write one object per line, e.g. {"text": ..., "label": ...}.')
    return obj


def _read_jsonl(text: str, path: Path) -> tuple[pd.DataFrame, list[int]]:
    """Records split on '\\n' only: U+2028, U+2029 and \\x85 are valid inside JSON strings
    (str.splitlines would cut the record there)."""
    records, lines = [], []
    for n, line in enumerate(text.split("\n"), 1):
        if (r := jsonl_record(line, n, path)) is not None:
            records.append(r)
            lines.append(n)
    if not records:
        raise DataError(f"{path}: the file has no JSON records.")
    return pd.DataFrame.from_records(records), lines


# --------------------------------------------------------------------------------------------
# Columns and validation


def from_frame(df: pd.DataFrame, name: str, *, first_line: int | None,
               text_column: str | None, text_pair_column: str | None,
               label_column: str | None, require_labels: bool,
               lines: list[int] | None = None, row_offset: int = 0,
               read_labels: bool = True) -> Examples:
    """Validated `Examples` from a frame. `lines` (file line per row) and `row_offset` (rows
    in earlier chunks) only make messages exact; `read_labels=False` (prediction) never reads
    a label column, which is still kept out of the text columns."""
    columns = [str(c) for c in df.columns]
    df = df.copy()
    df.columns = columns
    if len(df) == 0:
        raise DataError(f"{name}: no data rows (columns: {columns}).")
    label_col = _pick(columns, label_column, LABEL_NAMES, name, "label", "--label-column")
    text_col = _pick(columns, text_column, TEXT_NAMES, name, "text", "--text-column")
    pair_col = _pick(columns, text_pair_column, PAIR_NAMES if text_column is None else (),
                     name, "second text", "--text-pair-column")
    if text_col is None:
        text_col, pair_col = _guess_text_columns(df, exclude={label_col}, name=name)
    if label_col is None and require_labels:
        raise DataError(f"{name}: cannot tell which column holds the labels; columns are "
                        f"{columns}. Name it with --label-column (label_column=...).")
    if not read_labels:
        label_col = None
    ex = Examples(texts=[], source=name, first_line=first_line, lines=lines,
                  row_offset=row_offset,
                  columns={"text": text_col, "label": label_col or "", "pair": pair_col or ""})
    ex.texts = _text_values(df[text_col], text_col, ex)
    if pair_col is not None:
        ex.text_pairs = _text_values(df[pair_col], pair_col, ex)
    if label_col is not None:
        ex.labels = _label_values(df[label_col], label_col, ex)
    log.debug("%s: %d rows; text=%r pair=%r label=%r", name, len(ex), text_col, pair_col, label_col)
    n_dup = len(ex) - len(set(ex.keys()))
    if n_dup:
        log.info("%s: %d of %d rows repeat an earlier text%s; they are kept here and removed "
                 "before contrastive training.", name, n_dup, len(ex),
                 " pair" if pair_col else "")
    return ex


def _pick(columns: list[str], given: str | None, names: Sequence[str], source: str,
          role: str, option: str) -> str | None:
    if given is not None:
        if given in columns:
            return given
        close = difflib.get_close_matches(given, columns, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(f"{source}: no column '{given}' for the {role}; columns are "
                        f"{columns}.{hint} Fix {option}.")
    lower = {c.lower().strip(): c for c in columns}
    for cand in names:
        if cand in lower:
            return lower[cand]
    return None


def _guess_text_columns(df: pd.DataFrame, exclude: set, name: str) -> tuple[str, str | None]:
    """Text columns are the string-valued ones that are not numbers/ids; two of them = pairs."""
    cands = []
    for col in df.columns:
        if col in exclude:
            continue
        values = df[col]
        sample = values.head(200)
        if not all(isinstance(v, str) for v in sample):
            continue
        if all(re.fullmatch(r"\s*-?[\d.]+\s*", v) for v in sample if v):
            continue
        cands.append(col)
    if len(cands) == 1:
        return cands[0], None
    if len(cands) == 2:
        return cands[0], cands[1]
    raise DataError(f"{name}: cannot tell which column holds the text; columns are "
                    f"{list(df.columns)}. Name it with --text-column (and --text-pair-column "
                    "for sentence pairs).")


def _text_values(col: pd.Series, col_name: str, ex: Examples) -> list[str]:
    values = col.tolist()
    not_str = [i for i, v in enumerate(values) if not isinstance(v, str) and not _missing(v)]
    if not_str:
        v = values[not_str[0]]
        raise DataError(f"{ex.source}: column '{col_name}' must hold text, but {_rows(ex, not_str)}"
                        f" hold(s) other values (e.g. {v!r}, a {type(v).__name__}). Convert them "
                        "to strings or fix the column choice.")
    empty = [i for i, v in enumerate(values) if _missing(v) or not v.strip()]
    if empty:
        raise DataError(f"{ex.source}: column '{col_name}' is empty in {_rows(ex, empty)}. "
                        "Fill in or remove those rows (textune never drops rows silently).")
    return values


def _label_values(col: pd.Series, col_name: str, ex: Examples) -> list[Any]:
    values = col.tolist()
    missing = [i for i, v in enumerate(values)
               if _missing(v) or (isinstance(v, str) and not v.strip())]
    if missing:
        raise DataError(f"{ex.source}: label column '{col_name}' is missing a value in "
                        f"{_rows(ex, missing)}. Label those rows or remove them.")
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


def _is_hf_dataset(obj: Any) -> bool:
    return type(obj).__module__.startswith("datasets") and hasattr(obj, "to_pandas")


def label_counts(ex: Examples) -> Counter:
    return Counter(ex.labels or [])
