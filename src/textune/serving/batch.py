"""Prediction over files of any size, in bounded memory, and as a batch -> batch function.

Three layers, each usable on its own:

- `load_predictor(path, backend)`: one object with `predict_proba(texts, pairs)`, `labels`,
  `is_pair_`, `info`, for a saved model (torch) or an ONNX export (onnxruntime only).
- `predict_frame(df, predictor, ...)`: a pandas (or pyarrow) batch in, the same rows out with
  `label` and `proba_<label>` columns (`predicted_label`, `predicted_proba_<label>` when the
  input already has such a column). Plain batch -> batch, so it runs unchanged in
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
  Output line k belongs to input row k: no row is skipped (a blank line in a one-column file
  is an empty text, an error naming its line), and a label column in the input is ignored.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ..data import (DataError, csv_dialect, csv_frames, file_kind, first_line_is_data,
                   from_frame, html_entities, jsonl_record, read_table)

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
        self.decision = clf.decision_

    @property
    def info(self) -> dict:
        cfg = self.clf._config()
        return {"labels": self.labels, "method": cfg["method"], "backbone": cfg["backbone"],
                "text_pair": self.is_pair_, "multi_label": self.decision.multi_label,
                "backend": "torch", "versions": cfg["versions"],
                **model_card(self.clf.fit_stats_, getattr(self.clf, "created_", None))}

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                      batch_size: int = 64, max_tokens: int = 8192) -> np.ndarray:
        kw = {"bf16": self.bf16} if self.clf.kind == "embedding" else {}
        return self.clf.model_.predict_proba(list(texts), None if pairs is None else list(pairs),
                                             batch_size=batch_size, max_tokens=max_tokens, **kw)


def model_card(train: dict, created: str | None) -> dict:
    """What a person trying the model wants to know: training size, the best epoch's
    validation metrics (finetune/peft with a validation split) and when it was saved."""
    best = train.get("best") or {}
    scores = {k: v for k, v in best.items() if k not in ("step", "epoch", "train_loss")
              and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"n_train": train.get("n_train"), "scores": scores or None, "created": created}


def load_predictor(path: str | os.PathLike, backend: str = "torch", *, bf16: bool = False,
                   threads: int | None = None):
    """Load a model folder (torch) or an ONNX export folder (onnx); clear errors otherwise.

    `threads`: CPU threads for inference (default: every core this process may use)."""
    from .onnx import OnnxClassifier, is_onnx_export

    path = Path(path)
    if backend == "onnx":
        return OnnxClassifier.load(path, threads)
    if backend != "torch":
        raise ValueError(f"unknown backend '{backend}'; choose one of {list(BACKENDS)}.")
    if is_onnx_export(path):
        raise FileNotFoundError(f"{path} is an ONNX export; use --backend onnx with it (or "
                                "pass the original model folder for --backend torch).")
    from ..classifier import TextClassifier
    from ..engine.device import set_threads

    set_threads()
    if threads:
        import torch

        torch.set_num_threads(threads)
    clf = TextClassifier.load(path)
    _recommend_onnx(clf, path)
    return TorchPredictor(clf, bf16=bf16)


def _recommend_onnx(clf, path: Path) -> None:
    """Say so when a faster path is installed: on CPU the ONNX export of an embedding model
    predicts 1.3x (idle 2-core AVX2) to 2.9x (a busier machine) faster than torch with the
    same answers, and int8 faster still (docs/benchmarks.md, "Inference and serving")."""
    import importlib.util

    if (importlib.util.find_spec("onnxruntime") is not None
            and getattr(clf.model_, "kind", None) == "embedding"
            and clf.model_.encoder.device.type == "cpu"):
        log.info("onnxruntime is installed: `textune export %s -o %s-onnx` then --backend onnx "
                 "predicts faster on CPU with the same answers (1.3-2.9x measured; "
                 "--quantize int8 faster still)", path, path)


# -------------------------------------------------------------------------------- batch fn


def predict_frame(batch: Any, predictor, *, text_column: str = "text",
                  text_pair_column: str | None = None, keep_columns: bool = True) -> Any:
    """Batch in, batch out: the input rows plus `label` and one `proba_<label>` per class
    (a multi-label model: `labels`, the list of chosen labels per row).

    Accepts a pandas DataFrame or a pyarrow Table/RecordBatch and returns the same kind.
    Input columns are never overwritten: when the input already has a column of those names
    (labelled data has `label`), the outputs are `predicted_label` and
    `predicted_proba_<label>` instead (a DataError if those exist too). A missing (None/NaN),
    non-text or blank text is a DataError naming the row and the column, never a prediction
    for the string "nan".
    """
    arrow = not isinstance(batch, pd.DataFrame)
    df = batch.to_pandas() if arrow else batch
    texts = _column(df, text_column)
    pairs = _column(df, text_pair_column) if text_pair_column else None
    if bool(pairs is not None) != bool(predictor.is_pair_):
        want = "a text pair column" if predictor.is_pair_ else "single texts"
        raise DataError(f"this model was trained on {want}; set text_pair_column accordingly.")
    labels = predictor.labels
    multi = predictor.decision.multi_label
    names = output_columns(labels, df.columns if keep_columns else (), multi_label=multi)
    proba = predictor.predict_proba(texts, pairs) if len(texts) else \
        np.zeros((0, len(labels)), np.float32)
    out = df.copy() if keep_columns else pd.DataFrame(index=df.index)
    out[names[0]] = predictor.decision.labels(proba, labels) if len(texts) else []
    for j, name in enumerate(names[1:]):
        out[name] = proba[:, j]
    if arrow:
        import pyarrow as pa

        return pa.Table.from_pandas(out, preserve_index=False)
    return out


def output_columns(labels: list, existing: Any = (), *, multi_label: bool = False) -> list[str]:
    """[label column ("labels" for a multi-label model), one probability column per class],
    named so that none of `existing` is overwritten."""
    plain = ["labels" if multi_label else "label"] + [f"proba_{c}" for c in labels]
    taken = {str(c) for c in existing}
    if not taken & set(plain):
        return plain
    prefixed = [f"predicted_{n}" for n in plain]
    if taken & set(prefixed):
        raise DataError(f"the batch already has columns {sorted(taken & set(plain + prefixed))};"
                        " predictions would overwrite them. Rename or drop them, or pass "
                        "keep_columns=False.")
    return prefixed


def _column(df: pd.DataFrame, name: str) -> list[str]:
    """The texts of one column, or an error naming the rows that hold no text."""
    if name not in df.columns:
        raise DataError(f"batch has no column '{name}'; columns are {list(df.columns)}.")
    values = df[name].tolist()
    bad = [i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip()]
    if bad:
        index = df.index.tolist()
        where = ", ".join(f"row {i + 1} (index {index[i]!r}: {values[i]!r})" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(f"batch column '{name}' holds no text in {where}{more}; every row "
                        "needs a non-empty string (missing values are not classified). Fill "
                        "in or drop those rows.")
    return values


class BatchPredictor:
    """`predict_frame` with the model loaded once: the callable class Ray Data wants.

    Inside a Ray actor it uses as many threads as the CPUs Ray gave the actor (`num_cpus`,
    1 by default), so N actors on N cores do not fight over them; `threads` overrides."""

    def __init__(self, model_dir: str, backend: str = "torch", text_column: str = "text",
                 text_pair_column: str | None = None, keep_columns: bool = True,
                 threads: int | None = None):
        self.predictor = load_predictor(model_dir, backend, threads=threads or ray_cpus())
        self.kwargs = dict(text_column=text_column, text_pair_column=text_pair_column,
                           keep_columns=keep_columns)

    def __call__(self, batch: Any) -> Any:
        return predict_frame(batch, self.predictor, **self.kwargs)


def ray_cpus() -> int | None:
    """The CPUs Ray assigned to this worker (actor or task), or None outside Ray."""
    import sys

    ray = sys.modules.get("ray")  # never imported here: only a Ray worker has it loaded
    if ray is None or not ray.is_initialized():
        return None
    try:
        ctx = ray.get_runtime_context()
        if ctx.worker.mode != ray.WORKER_MODE:
            return None
        cpus = ctx.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - a Ray without these APIs: fall back to every core
        return None
    return max(1, int(round(cpus))) if cpus else None


# -------------------------------------------------------------------------------- streaming


def stream_predict(path: str | os.PathLike, output: str | os.PathLike, predictor, *,
                   text_column: str | None = None, text_pair_column: str | None = None,
                   chunk_size: int = 10_000, progress: bool = False, quoting: str = "auto",
                   unescape_html: bool = False, header: bool = True) -> int:
    """Classify every row of `path` chunk by chunk; write JSON Lines atomically; return rows.

    Memory holds one chunk of inputs and its probabilities, whatever the file size. Output
    line k is input row k; an empty text anywhere is an error naming its line (nothing is
    written then). Label columns are ignored, blanks and all. `quoting` and `unescape_html`
    read the file as `load_examples` does.
    """
    from tqdm.auto import tqdm

    path, output = Path(path), Path(output)
    chunks = examples_in_chunks(path, chunk_size, text_column=text_column,
                                text_pair_column=text_pair_column, quoting=quoting,
                                unescape_html=unescape_html, header=header)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    labels = [str(c) for c in predictor.labels]
    n = 0
    bar = tqdm(total=_count_rows(path), desc="predicting", unit="row", disable=not progress)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for ex, _ in chunks:
                if ex.is_pair != predictor.is_pair_:
                    want = "(text, text_pair) rows" if predictor.is_pair_ else "single texts"
                    raise DataError(f"{path}: this model was trained on {want}; pass the same "
                                    "kind of input (see --text-pair-column).")
                proba = predictor.predict_proba(ex.texts, ex.text_pairs)
                key = "labels" if predictor.decision.multi_label else "label"
                for row, chosen in zip(proba, predictor.decision.labels(proba,
                                                                         predictor.labels)):
                    f.write(json.dumps({key: chosen,
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
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        log.warning("%s is not valid UTF-8 (it ends mid-character); reading it as latin-1.",
                    path)
        return "latin-1"
    return "utf-8-sig"


def _csv_chunks(path: Path, chunk_size: int, quoting: str, header: bool = True):
    enc = _encoding(path)

    def open_text(newline: str):
        return open(path, encoding=enc, newline=newline)

    yield from csv_frames(open_text, path, csv_dialect(path, open_text, quoting),
                          chunk_size=chunk_size, header=header)


def _jsonl_chunks(path: Path, chunk_size: int):
    """Records split on '\\n' only (newline="\\n"), as the whole-file reader splits them."""
    records: list[dict] = []
    lines: list[int] = []
    with open(path, encoding=_encoding(path), newline="\n") as f:
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


def _count_rows(path: Path) -> int | None:
    """Row count for the progress bar when it is cheap (Parquet metadata), else None."""
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        try:
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - cosmetic only
            return None
    return None

