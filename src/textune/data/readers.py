"""File readers: CSV/TSV, JSON Lines, JSON arrays and Parquet into frames of strings.

Each reader keeps every row and the file line it starts on, so validation can name the line;
a record that does not fit is an error naming its line, never a row dropped or padded.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
from pathlib import Path
from typing import Iterator

import pandas as pd

from .dialect import (_BOMS, _QUOTING_NAME, CsvDialect, OpenText, _decode, _sniff_delimiter,
                      csv_dialect, file_kind, html_entities)
from .columns import LABEL_NAMES, PAIR_NAMES, TEXT_NAMES
from .errors import DataError

log = logging.getLogger(__name__)


def read_table(path: Path, *, quoting: str = "auto", unescape_html: bool = False,
               header: bool = True) -> tuple[pd.DataFrame, list[int] | None]:
    """Read CSV/TSV/JSONL/JSON/Parquet as strings-as-written. `header=False`: a CSV/TSV
    without a header line, whose columns are then named by position ("0", "1", ...).

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
                                        quoting, header)
    return html_entities(df, str(path), unescape_html), lines


def first_line_is_data(path: Path, names) -> bool:
    """Columns named by position ("0", "1", ...) that the first line does not all hold as
    names (but has as positions): the file has no header (GoEmotions' raw TSV), so its first
    line is a data row. A first line of usual column names (text, label, ...) is a header
    all the same, and the usual "no column '0'" error follows. Reads only the file's start."""
    names = {str(n) for n in names if n is not None}
    if not names or not all(n.isdecimal() for n in names):
        return False
    kind = file_kind(path)
    if kind in (".jsonl", ".ndjson", ".json", ".parquet", ".pq"):
        return False
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        head = f.read(1 << 16)
    delimiter = "\t" if kind == ".tsv" else _sniff_delimiter(head, truncated=True)
    first = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
    header = set(_header_names(first)) if first else set()
    usual = {c.strip().lower() for c in first} & {*TEXT_NAMES, *LABEL_NAMES, *PAIR_NAMES}
    return not names <= header and not usual and max(map(int, names)) < len(first)


def _read_json_array(text: str, path: Path) -> pd.DataFrame:
    try:
        return pd.DataFrame(json.loads(text))
    except (json.JSONDecodeError, ValueError) as e:
        raise DataError(f"{path}: not valid JSON ({e}). Use a list of objects or "
                        "JSON Lines (one object per line).") from e


def _read_delimited(open_text: OpenText, path: Path, quoting: str,
                    header: bool = True) -> tuple[pd.DataFrame, list[int]]:
    return next(csv_frames(open_text, path, csv_dialect(path, open_text, quoting),
                           chunk_size=None, header=header))


def csv_frames(open_text: OpenText, path: Path, dialect: CsvDialect, *,
               chunk_size: int | None,
               header: bool = True) -> Iterator[tuple[pd.DataFrame, list[int]]]:
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
                                      strict=True), path, dialect, chunk_size, header)


def _frames(reader, path: Path, dialect: CsvDialect, chunk_size: int | None,
            has_header: bool = True):
    delimiter, quoting = dialect.delimiter, dialect.quoting
    rows: list[list[str]] = []
    lines: list[int] = []
    emitted = False
    try:
        header = next(reader, None)
        if not header:
            first = ("the first line must be the header (the column names)" if has_header
                     else "the first line must be a data row")
            raise DataError(f"{path}: line 1 is blank; {first}." if header == []
                            else f"{path}: the file is empty.")
        if has_header:
            columns = _header_names(header)
        else:  # headerless: columns by position, and line 1 is the first row
            columns = [str(i) for i in range(len(header))]
            rows.append(header)
            lines.append(1)
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
                where = "the header" if has_header else "line 1"
                raise csv_parse_error(path, delimiter, f"line {start} has {len(fields)} "
                                      f"fields where {where} has {width}", quoting)
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
