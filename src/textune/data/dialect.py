"""How a file is written: its format, text encoding, CSV dialect and HTML entities.

Detection is separate from reading so that whole-file reads (`readers`) and streamed ones
(`stream`, for `textune predict` in chunks) decide the same way: the format from the suffix, UTF-8 with a
logged latin-1 fallback, the delimiter from the first lines, and whether quotes are CSV
quoting or plain text from the whole file, with the choice and why logged.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import html
import io
import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, TextIO

import pandas as pd

from .errors import DataError

log = logging.getLogger(__name__)

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
    """The whole file as text (.gz decompressed), in the encoding `text_encoding` picks."""
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # the one decision (and its warning) below
        return raw.decode(_utf8_or_latin1([raw], path))


def text_encoding(path: Path) -> str:
    """"utf-8-sig" (a BOM skipped) if the whole file decodes as UTF-8, else "latin-1" with a
    logged warning naming the first bad byte. Streamed: bounded memory for any file size."""
    def blocks():
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                yield block

    return _utf8_or_latin1(blocks(), path)


def _utf8_or_latin1(blocks, path: Path) -> str:
    """The one encoding decision for every reader: UTF-8, or latin-1 (which decodes any
    byte) with a warning; `blocks` are the file's bytes in order."""
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    for block in blocks:
        try:
            dec.decode(block)
        except UnicodeDecodeError as e:
            log.warning("%s is not valid UTF-8 (byte %d); reading it as latin-1. Re-save it "
                        "as UTF-8 if characters look wrong.", path, offset + e.start)
            return "latin-1"
        offset += len(block)
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        log.warning("%s is not valid UTF-8 (it ends mid-character); reading it as latin-1.",
                    path)
        return "latin-1"
    return "utf-8-sig"


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
