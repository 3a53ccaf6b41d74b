"""Files read in chunks, in bounded memory, row for row as `readers.read_table` reads them.

What streamed prediction (`textune predict`, the Ray engine) classifies: the same format,
encoding (`dialect.text_encoding`), CSV dialect and HTML-entity handling as a whole-file
read, one chunk of rows at a time, with the file line of each row for error messages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from .dialect import csv_dialect, file_kind, html_entities, text_encoding
from .errors import DataError
from .readers import csv_frames, first_line_is_data, jsonl_record, read_table
from .validation import from_frame

log = logging.getLogger(__name__)


def examples_in_chunks(path: Path, chunk_size: int, *, text_column: str | None = None,
                       text_pair_column: str | None = None, quoting: str = "auto",
                       unescape_html: bool = False, header: bool = True
                       ) -> Iterator[tuple[Any, int]]:
    """(validated `Examples`, rows before it) per chunk of `path`, labels never read: what
    `stream_predict` and the Ray engine classify. The text columns found in the first chunk
    are used for the rest; an empty text is a DataError naming its row and line. The header
    check runs now, the reading as the result is iterated."""
    if header and first_line_is_data(path, [text_column, text_pair_column]):
        log.warning("%s: its first line has no column named %r, so the file is read without "
                    "a header: line 1 is a data row (--no-header says so explicitly).", path,
                    text_column)
        header = False

    def chunks():
        text_col, pair_col = text_column, text_pair_column
        for df, lines, offset in read_chunks(path, chunk_size, quoting=quoting,
                                             unescape_html=unescape_html, header=header):
            ex = from_frame(df, str(path), first_line=None, lines=lines, row_offset=offset,
                            text_column=text_col, text_pair_column=pair_col,
                            label_column=None, require_labels=False, read_labels=False)
            text_col, pair_col = ex.columns["text"], ex.columns["pair"] or None
            yield ex, offset

    return chunks()


def read_chunks(path: Path, chunk_size: int, *, quoting: str = "auto",
                unescape_html: bool = False, header: bool = True
                ) -> Iterator[tuple[pd.DataFrame, list[int] | None, int]]:
    """(frame, file line of each row or None, rows before it) per chunk, strings as written.

    Reads exactly what `read_table` reads, row for row (the same dialect choice, from a scan
    of the whole file), without holding the file in memory.
    """
    kind = file_kind(path)
    if path.suffix.lower() == ".gz" or kind not in (".parquet", ".pq", ".jsonl", ".ndjson",
                                                    ".csv", ".tsv", ".txt"):
        yield from _whole_file_chunks(path, chunk_size, quoting, unescape_html,  # .json, .gz
                                      header)
        return
    if kind in (".parquet", ".pq"):
        chunks = _parquet_chunks(path, chunk_size)
    elif kind in (".jsonl", ".ndjson"):
        chunks = _jsonl_chunks(path, chunk_size)
    else:
        chunks = _csv_chunks(path, chunk_size, quoting, header)
    seen: set = set()
    done = 0
    for df, lines in chunks:
        yield html_entities(df, str(path), unescape_html, seen), lines, done
        done += len(df)


def _whole_file_chunks(path: Path, chunk_size: int, quoting: str, unescape_html: bool,
                       header: bool = True):
    df, lines = read_table(path, quoting=quoting, unescape_html=unescape_html, header=header)
    for start in range(0, max(len(df), 1), chunk_size):
        yield (df.iloc[start:start + chunk_size].reset_index(drop=True),
               None if lines is None else lines[start:start + chunk_size], start)


def _parquet_chunks(path: Path, chunk_size: int):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises many types
        raise DataError(f"{path}: not a readable Parquet file ({e}).") from e
    for batch in pf.iter_batches(batch_size=chunk_size):
        yield batch.to_pandas(), None


def _csv_chunks(path: Path, chunk_size: int, quoting: str, header: bool = True):
    enc = text_encoding(path)

    def open_text(newline: str):
        return open(path, encoding=enc, newline=newline)

    yield from csv_frames(open_text, path, csv_dialect(path, open_text, quoting),
                          chunk_size=chunk_size, header=header)


def _jsonl_chunks(path: Path, chunk_size: int):
    """Records split on '\\n' only (newline="\\n"), as the whole-file reader splits them."""
    records: list[dict] = []
    lines: list[int] = []
    with open(path, encoding=text_encoding(path), newline="\n") as f:
        for lineno, line in enumerate(f, 1):
            obj = jsonl_record(line, lineno, path)
            if obj is None:
                continue
            records.append(obj)
            lines.append(lineno)
            if len(records) >= chunk_size:
                yield pd.DataFrame.from_records(records), lines
                records, lines = [], []
    if records:
        yield pd.DataFrame.from_records(records), lines
