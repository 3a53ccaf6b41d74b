"""Labelled texts in, one validated `Examples` out.

Every reader ends in the same place so that validation, and its error messages, live once.
Errors name the source, the row and the column, and say what to do: a user with a broken
CSV should never have to read a pandas or torch traceback.

One job per module, each importing only the ones listed before it (nothing outside `data/`):

- `errors`: `DataError` and the row/value wording of its messages.
- `labels`: labels as the user wrote them, matched to a model's classes (multi-label goes here).
- `examples`: `Examples`, the validated texts, pairs and labels.
- `columns`: which column is the text, the second text, the label.
- `validation`: `from_frame`, a frame of strings into `Examples`; `is_empty_text`, the one
  definition of an empty text.
- `dialect`: a file's format, encoding, CSV delimiter/quoting/line ends, HTML entities.
- `readers`: CSV/TSV, JSON Lines, JSON and Parquet files into frames.
- `stream`: the same files in chunks of rows, validated, for streamed prediction.
- `inputs`: the public entry points (`load_examples`, `coerce_inputs`, `from_lists`).
- `sampling`: few-shot samples per class and stratified splits of `Examples`.

The names below are the package's interface; import them from `textune.data`.
"""

from .columns import LABEL_NAMES, PAIR_NAMES, TEXT_NAMES
from .dialect import (QUOTING_CHOICES, SEPARATORS, SNIFF_CHARS, CsvDialect, OpenText,
                      csv_dialect, file_kind, html_entities, text_encoding)
from .errors import MAX_LISTED, DataError
from .examples import Examples
from .inputs import coerce_inputs, from_lists, load_examples
from .labels import align_labels, label_counts
from .readers import csv_frames, csv_parse_error, first_line_is_data, jsonl_record, read_table
from .stream import examples_in_chunks, read_chunks
from .validation import from_frame, is_empty_text, non_empty_text_pattern

__all__ = ["DataError", "Examples", "load_examples", "coerce_inputs", "from_lists",
           "from_frame", "is_empty_text", "non_empty_text_pattern", "align_labels",
           "label_counts", "read_table", "read_chunks",
           "examples_in_chunks", "file_kind", "text_encoding",
           "csv_dialect", "csv_frames", "csv_parse_error", "first_line_is_data", "jsonl_record",
           "html_entities",
           "CsvDialect", "OpenText", "QUOTING_CHOICES", "SEPARATORS", "SNIFF_CHARS",
           "LABEL_NAMES", "TEXT_NAMES", "PAIR_NAMES", "MAX_LISTED"]
