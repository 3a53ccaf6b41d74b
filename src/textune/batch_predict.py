"""Prediction over files of any size, in bounded memory, and as a batch -> batch function.

Three layers, each usable on its own:

- `load_predictor(path, backend)`: one object with `predict_proba(texts, pairs)`, `labels`,
  `is_pair_`, `info`, for a saved model (torch) or an ONNX export (onnxruntime only).
- `predict_frame(df, predictor, ...)`: a pandas (or pyarrow) batch in, the same rows out with
  `label` and `proba_<label>` columns. Plain batch -> batch, so it runs unchanged in
  Ray Data and Spark:

      # Ray Data: one model per actor, batches streamed through it
      ds = ray.data.read_parquet("s3://bucket/texts/")
      out = ds.map_batches(BatchPredictor, fn_constructor_kwargs={"model_dir": "my-model"},
                           batch_format="pandas", batch_size=4096, concurrency=4)

      # Spark: the same object inside mapInPandas (schema: the input's + label + proba_*)
      fn = BatchPredictor("my-model")
      sdf.mapInPandas(lambda batches: (fn(b) for b in batches), schema=out_schema)

- `stream_predict(path, output, predictor)`: reads CSV/TSV/JSONL/Parquet in chunks, writes
  JSON Lines (`label`, `probabilities`) to a temporary file renamed into place at the end.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from .data import (DataError, csv_dialect, csv_parse_error, from_frame, jsonl_record,
                   read_table)

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")


# -------------------------------------------------------------------------------- predictors


class TorchPredictor:
    """A saved model behind the predictor interface; inference via `Encoder.embed`."""

    def __init__(self, clf, *, bf16: bool = False):
        self.clf = clf
        self.bf16 = bf16
        self.labels = clf.labels
        self.classes_ = clf.classes_
        self.is_pair_ = clf.is_pair_

    @property
    def info(self) -> dict:
        cfg = self.clf._config()
        return {"labels": self.labels, "method": cfg["method"], "backbone": cfg["backbone"],
                "text_pair": self.is_pair_, "backend": "torch", "versions": cfg["versions"]}

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray:
        kw = {"bf16": self.bf16} if self.clf.kind == "embedding" else {}
        return self.clf.model_.predict_proba(list(texts), None if pairs is None else list(pairs),
                                             batch_size=batch_size, max_tokens=max_tokens, **kw)


def load_predictor(path: str | os.PathLike, backend: str = "torch", *, bf16: bool = False):
    """Load a model folder (torch) or an ONNX export folder (onnx); clear errors otherwise."""
    from .onnx_export import OnnxClassifier, is_onnx_export

    path = Path(path)
    if backend == "onnx":
        return OnnxClassifier.load(path)
    if backend != "torch":
        raise ValueError(f"unknown backend '{backend}'; choose one of {list(BACKENDS)}.")
    if is_onnx_export(path):
        raise FileNotFoundError(f"{path} is an ONNX export; use --backend onnx with it (or "
                                "pass the original model folder for --backend torch).")
    from .classifier import TextClassifier
    from .encoder import set_threads

    set_threads()
    return TorchPredictor(TextClassifier.load(path), bf16=bf16)


# -------------------------------------------------------------------------------- batch fn


def predict_frame(batch: Any, predictor, *, text_column: str = "text",
                  text_pair_column: str | None = None, keep_columns: bool = True) -> Any:
    """Batch in, batch out: the input rows plus `label` and one `proba_<label>` per class.

    Accepts a pandas DataFrame or a pyarrow Table/RecordBatch and returns the same kind.
    """
    arrow = not isinstance(batch, pd.DataFrame)
    df = batch.to_pandas() if arrow else batch
    texts = _column(df, text_column)
    pairs = _column(df, text_pair_column) if text_pair_column else None
    if bool(pairs is not None) != bool(predictor.is_pair_):
        want = "a text pair column" if predictor.is_pair_ else "single texts"
        raise DataError(f"this model was trained on {want}; set text_pair_column accordingly.")
    proba = predictor.predict_proba(texts, pairs) if len(texts) else \
        np.zeros((0, len(predictor.labels)), np.float32)
    out = df.copy() if keep_columns else pd.DataFrame(index=df.index)
    labels = predictor.labels
    out["label"] = [labels[i] for i in proba.argmax(axis=1)] if len(texts) else []
    for j, lab in enumerate(labels):
        out[f"proba_{lab}"] = proba[:, j]
    if arrow:
        import pyarrow as pa

        return pa.Table.from_pandas(out, preserve_index=False)
    return out


def _column(df: pd.DataFrame, name: str) -> list[str]:
    if name not in df.columns:
        raise DataError(f"batch has no column '{name}'; columns are {list(df.columns)}.")
    return ["" if v is None else str(v) for v in df[name].tolist()]


class BatchPredictor:
    """`predict_frame` with the model loaded once: the callable class Ray Data wants."""

    def __init__(self, model_dir: str, backend: str = "torch", text_column: str = "text",
                 text_pair_column: str | None = None, keep_columns: bool = True):
        self.predictor = load_predictor(model_dir, backend)
        self.kwargs = dict(text_column=text_column, text_pair_column=text_pair_column,
                           keep_columns=keep_columns)

    def __call__(self, batch: Any) -> Any:
        return predict_frame(batch, self.predictor, **self.kwargs)


# -------------------------------------------------------------------------------- streaming


def stream_predict(path: str | os.PathLike, output: str | os.PathLike, predictor, *,
                   text_column: str | None = None, text_pair_column: str | None = None,
                   chunk_size: int = 10_000, progress: bool = False) -> int:
    """Classify every row of `path` chunk by chunk; write JSON Lines atomically; return rows.

    Memory holds one chunk of inputs and its probabilities, whatever the file size.
    """
    from tqdm.auto import tqdm

    path, output = Path(path), Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    labels = [str(c) for c in predictor.labels]
    n = 0
    text_col, pair_col = text_column, text_pair_column
    bar = tqdm(total=_count_rows(path), desc="predicting", unit="row", disable=not progress)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for df, first_line in read_chunks(path, chunk_size):
                ex = from_frame(df, str(path), first_line=first_line, text_column=text_col,
                                text_pair_column=pair_col, label_column=None,
                                require_labels=False)
                text_col, pair_col = ex.columns["text"], ex.columns["pair"] or None
                if ex.is_pair != predictor.is_pair_:
                    want = "(text, text_pair) rows" if predictor.is_pair_ else "single texts"
                    raise DataError(f"{path}: this model was trained on {want}; pass the same "
                                    "kind of input (see --text-pair-column).")
                proba = predictor.predict_proba(ex.texts, ex.text_pairs)
                for row in proba:
                    f.write(json.dumps({"label": predictor.labels[int(row.argmax())],
                                        "probabilities": {c: round(float(p), 6)
                                                          for c, p in zip(labels, row)}}) + "\n")
                n += len(ex)
                bar.update(len(ex))
        os.replace(tmp, output)
    finally:
        bar.close()
        if tmp.exists():
            tmp.unlink()
    if n == 0:
        raise DataError(f"{path}: no data rows.")
    return n


def read_chunks(path: Path, chunk_size: int) -> Iterator[tuple[pd.DataFrame, int | None]]:
    """(frame, file line of its first row) per chunk, strings as written in the file."""
    if not path.is_file():
        read_table(path)  # raises the standard 'no such file' / 'is a folder' error
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as e:  # noqa: BLE001 - pyarrow raises many types
            raise DataError(f"{path}: not a readable Parquet file ({e}).") from e
        done = 0
        for batch in pf.iter_batches(batch_size=chunk_size):
            yield batch.to_pandas(), done + 1
            done += batch.num_rows
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_chunks(path, chunk_size)
    elif suffix in (".csv", ".tsv", ".txt"):
        yield from _csv_chunks(path, chunk_size)
    else:  # .json arrays, .gz, ...: not streamable, read whole
        df, first = read_table(path)
        for start in range(0, len(df), chunk_size):
            yield df.iloc[start:start + chunk_size].reset_index(drop=True), first + start


def _encoding(path: Path) -> str:
    """utf-8 (BOM skipped) if the whole file decodes, else latin-1 with a warning; streamed."""
    dec = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            try:
                dec.decode(block)
            except UnicodeDecodeError as e:
                log.warning("%s is not valid UTF-8 (byte %d); reading it as latin-1. Re-save "
                            "it as UTF-8 if characters look wrong.", path, offset + e.start)
                return "latin-1"
            offset += len(block)
    return "utf-8-sig"


def _csv_chunks(path: Path, chunk_size: int):
    enc = _encoding(path)
    with open(path, encoding=enc, newline="") as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise DataError(f"{path}: the file is empty.")
    delimiter, quoting = csv_dialect(path, head)
    line = 2
    try:
        reader = pd.read_csv(path, sep=delimiter, quoting=quoting, dtype=str, encoding=enc,
                             keep_default_na=False, na_filter=False, engine="python",
                             chunksize=chunk_size)
        for df in reader:
            yield df, line
            line += len(df)
    except (pd.errors.ParserError, csv.Error) as e:
        raise csv_parse_error(path, delimiter, e) from e


def _jsonl_chunks(path: Path, chunk_size: int):
    records: list[dict] = []
    first = 1
    with open(path, encoding=_encoding(path)) as f:
        for lineno, line in enumerate(f, 1):
            obj = jsonl_record(line, lineno, path)
            if obj is None:
                continue
            if not records:
                first = lineno
            records.append(obj)
            if len(records) >= chunk_size:
                yield pd.DataFrame.from_records(records), first
                records = []
    if records:
        yield pd.DataFrame.from_records(records), first


def _count_rows(path: Path) -> int | None:
    """Row count for the progress bar when it is cheap (Parquet metadata), else None."""
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        try:
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - cosmetic only
            return None
    return None

