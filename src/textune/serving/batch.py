"""Prediction over files of any size, in bounded memory, and as a batch -> batch function.

Three layers, each usable on its own:

- `load_predictor(path, backend)`: a `predictor.Predictor` (`predict_proba(texts, pairs)`,
  `labels`, `is_pair_`, `decision`, `info`) for a saved model (`torch_runtime`) or an ONNX
  export (`onnx_runtime`, onnxruntime only).
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

- `stream_predict(path, output, predictor)`: reads CSV/TSV/JSONL/Parquet in chunks
  (`data.examples_in_chunks`), writes
  JSON Lines (`label`, `probabilities`) to a temporary file renamed into place at the end.
  Output line k belongs to input row k: no row is skipped (a blank line in a one-column file
  is an empty text, an error naming its line), and a label column in the input is ignored.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import DataError, examples_in_chunks, read_chunks  # noqa: F401 - 0.3 names
from ..data import is_empty_text
from .predictor import BACKENDS, Predictor, check_input_kind, model_card  # noqa: F401
from .torch_runtime import TorchPredictor  # noqa: F401 - its 0.3 import path

log = logging.getLogger(__name__)


def load_predictor(path: str | os.PathLike, backend: str = "torch", *, bf16: bool = False,
                   threads: int | None = None) -> Predictor:
    """Load a model folder (torch) or an ONNX export folder (onnx); clear errors otherwise.

    `threads`: CPU threads for inference (default: every core this process may use)."""
    from .onnx_runtime import OnnxClassifier, is_onnx_export
    from .torch_runtime import load_torch_predictor

    path = Path(path)
    if backend == "onnx":
        return OnnxClassifier.load(path, threads)
    if backend != "torch":
        raise ValueError(f"unknown backend '{backend}'; choose one of {list(BACKENDS)}.")
    if is_onnx_export(path):
        raise FileNotFoundError(f"{path} is an ONNX export; use --backend onnx with it (or "
                                "pass the original model folder for --backend torch).")
    return load_torch_predictor(path, bf16=bf16, threads=threads)


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
    check_input_kind(predictor, pairs is not None, "set text_pair_column accordingly.")
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
    bad = [i for i, v in enumerate(values) if not isinstance(v, str) or is_empty_text(v)]
    if bad:
        index = df.index.tolist()
        where = ", ".join(f"row {i + 1} (index {index[i]!r}: {values[i]!r})" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(f"batch column '{name}' holds no text in {where}{more}; every row "
                        "needs text beyond whitespace and invisible characters such as U+200B "
                        "(missing values are not classified). Fill in or drop those rows.")
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
                check_input_kind(predictor, ex.is_pair, "pass the same kind of input (see "
                                 "--text-pair-column).", lambda m: DataError(f"{path}: {m}"))
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


def _count_rows(path: Path) -> int | None:
    """Row count for the progress bar when it is cheap (Parquet metadata), else None."""
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        try:
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - cosmetic only
            return None
    return None

