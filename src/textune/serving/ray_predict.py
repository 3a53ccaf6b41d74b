"""`textune predict --engine ray`: files streamed through one model per Ray actor.

The pipeline is the README's Ray Data recipe with files in front and parts behind:

    input files (sorted) ─► read tasks ─► map_batches(RayPredictor, one model per actor) ─►
    the driver, in input order ─► one output part per input file, temp name then rename

- Reading reuses `examples_in_chunks` (the readers `textune predict` uses: same dialect
  choice, same validation, errors naming the file, row and line). A read task yields
  chunks of `chunk_size` rows, so a large file streams and several files read in parallel.
- Prediction is `BatchPredictor` (`predict_frame`): one model per actor, each actor using as
  many threads as CPUs Ray gave it (1).
- Ray Data preserves order here, so the driver receives file 0's rows, then file 1's, ... and
  numbers them (`row`: 0-based across all input files, in sorted order). It checks that every
  file's rows arrive exactly once (0, 1, ..., last, flagged by the reader) before renaming
  its part into place; a worker that dies mid-run is restarted by Ray, which retries its
  batch, and a gap or a duplicate would stop the run rather than be written.
- Resuming: a part that exists is complete (only complete parts are renamed into place), so
  a rerun skips its input file and reads its row count from the part. That is right only
  for the same inputs, model and settings, so the folder's manifest (`MANIFEST`: each
  input's signature, its part and row count, the format, model fingerprint and reading
  options; `artifact.manifest`) is compared first and a difference that would leave stale
  or misnumbered rows is refused, naming it; `restart=True` (`--restart`) deletes the
  parts and the manifest and starts over.

Ray is an optional extra (`pip install 'textune[ray]'`); nothing here imports it at module
level.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..artifact.manifest import (file_signature, model_fingerprint, resume_problems,
                                 write_json_atomic)
from ..data import DataError, examples_in_chunks
from .batch import BatchPredictor, predict_frame
from .predictor import check_input_kind

log = logging.getLogger(__name__)

FORMATS = ("parquet", "jsonl")
INPUT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
RAY_MISSING = ("--engine ray needs Ray: pip install 'textune[ray]' (Ray Data {}); or drop "
               "--engine ray to predict in this process.")


MANIFEST = "_manifest.json"  # '_': skipped when the folder is read as input (and by pyarrow)
PART_NAME = re.compile(r"part-\d{5}-.+\.(parquet|jsonl)")


class RayMissing(ImportError):
    """Ray is not installed; the message says how to install it."""


class ResumeMismatch(DataError):
    """The output folder holds parts a resumed run must not keep; the message says why."""


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra: pandas/pyarrow glue
    except ImportError as e:
        raise RayMissing(RAY_MISSING.format(">=2.40")) from e
    return ray


# -------------------------------------------------------------------------------- inputs


def input_files(data: str | os.PathLike) -> list[Path]:
    """The files `--data` names: a file; a folder's files (not its subfolders; names starting
    with '.' or '_' skipped); or a glob pattern. Sorted by path: that order numbers the rows."""
    data = str(data)
    path = Path(data)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.name[0] not in "._"
                       and _is_input(p))
        where = f"folder {path}"
    elif glob.has_magic(data):
        files = sorted(Path(p) for p in glob.glob(data, recursive=True)
                       if Path(p).is_file() and _is_input(Path(p)))
        where = f"pattern {data!r}"
    else:
        raise DataError(f"{path}: no such file or folder. Check the path (relative paths "
                        f"start at {Path.cwd()}).")
    if not files:
        raise DataError(f"{where} holds no CSV, TSV, JSONL or Parquet files "
                        f"({', '.join(INPUT_SUFFIXES)}, optionally .gz).")
    return files


def _is_input(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in INPUT_SUFFIXES


def part_path(output: Path, index: int, source: Path, fmt: str) -> Path:
    """Input file `index` (in sorted order) -> its part; the name keeps the source's name."""
    return output / f"part-{index:05d}-{source.name}.{fmt}"


# -------------------------------------------------------------------------------- workers


def read_files(batch: pd.DataFrame, *, chunk_size: int, text_column: str | None,
               text_pair_column: str | None, quoting: str, unescape_html: bool,
               header: bool):
    """Ray Data read step: (file, path) rows in, frames of `file`, `row` (in that file),
    `last` (its last row), `text` [, `text_pair`] out, `chunk_size` rows at a time."""
    for index, path in zip(batch["file"].tolist(), batch["path"].tolist()):
        pending = None
        for ex, offset in examples_in_chunks(Path(path), chunk_size, text_column=text_column,
                                             text_pair_column=text_pair_column,
                                             quoting=quoting, unescape_html=unescape_html,
                                             header=header):
            frame = pd.DataFrame({"file": np.full(len(ex), index, np.int64),
                                  "row": np.arange(offset, offset + len(ex), dtype=np.int64),
                                  "last": np.zeros(len(ex), bool), "text": ex.texts})
            if ex.text_pairs is not None:
                frame["text_pair"] = ex.text_pairs
            if pending is not None:
                yield pending
            pending = frame
        if pending is None:
            raise DataError(f"{path}: no data rows.")
        pending.loc[pending.index[-1], "last"] = True  # one chunk of lookahead marks the end
        yield pending


class RayPredictor(BatchPredictor):
    """The actor: `BatchPredictor` on the read step's frames, keeping `file`, `row`, `last`
    and dropping the texts (only predictions travel back to the driver)."""

    def __init__(self, model_dir: str, backend: str = "torch",
                 sources: Sequence[str] = (), threads: int | None = None):
        _quiet_loading()
        super().__init__(model_dir, backend, text_column="text", keep_columns=False,
                         threads=threads)
        self.sources = list(sources)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        pairs = "text_pair" in batch.columns
        name = self.sources[int(batch["file"].iloc[0])] if self.sources else "input"
        check_input_kind(self.predictor, pairs, "pass the same kind of input (see "
                         "--text-pair-column).", lambda m: DataError(f"{name}: {m}"))
        out = predict_frame(batch, self.predictor, text_column="text",
                            text_pair_column="text_pair" if pairs else None,
                            keep_columns=False)
        out.insert(0, "last", batch["last"].to_numpy())
        out.insert(0, "row", batch["row"].to_numpy())
        out.insert(0, "file", batch["file"].to_numpy())
        return out.reset_index(drop=True)


def _quiet_loading() -> None:
    """No per-actor 'Loading weights' bars in the driver's log (Ray forwards worker stderr)."""
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only (an ONNX-only install has none)
        pass


# -------------------------------------------------------------------------------- parts


class _Part:
    """One output part, written to a hidden temp name and renamed when its last row is in."""

    def __init__(self, path: Path, fmt: str, index: int, first_row: int):
        self.path, self.fmt, self.index, self.first_row = path, fmt, index, first_row
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.n = 0
        self._writer = None
        self._file = open(self.tmp, "w", encoding="utf-8") if fmt == "jsonl" else None

    def write(self, frame: pd.DataFrame) -> None:
        frame = frame.drop(columns=["file", "last"])
        frame["row"] = frame["row"] + self.first_row
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table)
        else:
            key = frame.columns[1]  # label, or labels for a multi-label model
            probas = [c for c in frame.columns[2:]]
            names = [c[len("proba_"):] for c in probas]
            values = frame[probas].to_numpy(np.float64)
            for r, chosen, p in zip(frame["row"].tolist(), frame[key].tolist(), values):
                if isinstance(chosen, np.ndarray):
                    chosen = chosen.tolist()
                self._file.write(json.dumps({"row": r, key: chosen, "probabilities": {
                    c: round(float(v), 6) for c, v in zip(names, p)}}) + "\n")
        self.n += len(frame)

    def commit(self) -> None:
        self.close()
        os.replace(self.tmp, self.path)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


def part_rows(path: Path, fmt: str) -> np.ndarray:
    """The `row` column of a complete part."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=["row"])["row"].to_numpy()
    with open(path, encoding="utf-8") as f:
        return np.array([json.loads(line)["row"] for line in f if line.strip()], np.int64)


# -------------------------------------------------------------------------------- driver


def ray_predict(model_dir: str | os.PathLike, data: str | os.PathLike,
                output: str | os.PathLike, *, backend: str = "torch",
                address: str | None = None, actors: int | None = None,
                batch_size: int = 1024, chunk_size: int = 10_000, fmt: str = "parquet",
                text_column: str | None = None, text_pair_column: str | None = None,
                quoting: str = "auto", unescape_html: bool = False, header: bool = True,
                progress: bool = False, restart: bool = False,
                predictor_cls: type = RayPredictor) -> dict:
    """Predict every row of the files `data` names into one part per file under `output`.

    A rerun into the same folder resumes: finished parts are kept if the folder's manifest
    says they came from the same inputs (and every input before them), model, format and
    reading options; otherwise `ResumeMismatch` names each difference. `restart=True`
    deletes the parts and manifest first (only those files) and predicts everything.

    Returns {"n", "predicted", "skipped", "parts", "actors", "seconds", ...}. A Ray session
    already started in this process (`ray.init`) is used as it is; otherwise `ray.init(address)`
    connects (None: $RAY_ADDRESS or a cluster `ray start` runs here, else a new local one;
    "local": always a new local one; "auto" or "ray://host:10001": an existing one) and
    disconnects at the end. `predictor_cls` is the actor class (a
    `RayPredictor` subclass).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown --format '{fmt}'; choose one of {list(FORMATS)}.")
    ray = import_ray()  # before anything is written
    t0 = time.perf_counter()
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise FileNotFoundError(f"{model_dir}: no such model folder.")
    files = input_files(data)
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise DataError(f"{output} is a file; --engine ray writes a folder of parts "
                        "(one per input file). Pass a folder name.")
    output.mkdir(parents=True, exist_ok=True)
    if restart:
        _clear(output)
    for stale in output.glob(".part-*.tmp"):  # a run killed mid-part left it: redo that part
        stale.unlink()
    parts = [part_path(output, i, f, fmt) for i, f in enumerate(files)]
    settings = {"--output-format": fmt, "--backend": backend,
                "model": {"fingerprint": model_fingerprint(model_dir)},
                "--text-column": text_column, "--text-pair-column": text_pair_column,
                "--quoting": quoting, "--unescape-html": unescape_html,
                "--no-header": not header}
    manifest = _Manifest.checked(output, files, parts, settings, model_dir)
    done = {i: p for i, p in enumerate(parts) if p.exists()}
    pending = [i for i in range(len(files)) if i not in done]
    if done:
        log.info("%s: %d of %d parts already complete; predicting the other %d input files.",
                 output, len(done), len(files), len(pending))
    state = _Driver(files, parts, done, fmt, manifest)
    n_actors = 0
    if pending:
        started = not ray.is_initialized()
        if started:
            _start_ray(ray, address)
        try:
            n_actors = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
            log.info("predicting %d files with %d actors (backend %s, batches of %d rows)",
                     len(pending), n_actors, backend, batch_size)
            try:
                with _ray_data_errors_muted(), _data_context(ray, progress):
                    ds = _pipeline(ray, model_dir, files, pending, backend=backend,
                                   actors=n_actors, batch_size=batch_size,
                                   chunk_size=chunk_size, text_column=text_column,
                                   text_pair_column=text_pair_column, quoting=quoting,
                                   unescape_html=unescape_html, header=header,
                                   predictor_cls=predictor_cls)
                    for block in ds.iter_batches(batch_size=None, batch_format="pandas"):
                        state.take(block)
            except Exception as e:  # noqa: BLE001 - Ray wraps the worker's error
                state.abort()
                error = _user_error(e)
                if error is e:  # not about the user's data: the traceback is the report
                    raise
                raise error from None
        finally:
            if started:
                ray.shutdown()
    state.finish()
    seconds = time.perf_counter() - t0
    return {"n": state.offset, "predicted": state.predicted, "skipped": len(done),
            "output": str(output), "parts": [str(p) for p in parts], "format": fmt,
            "backend": backend, "engine": "ray", "actors": n_actors,
            "seconds": round(seconds, 3),
            "texts_per_second": round(state.predicted / max(seconds, 1e-9), 1)}


def _clear(output: Path) -> None:
    """--restart: delete what textune wrote here (parts, their temps, the manifest), nothing
    else."""
    gone = [p for p in output.iterdir() if p.is_file() and (
        PART_NAME.fullmatch(p.name) or p.name == MANIFEST
        or (p.name.startswith(".part-") and p.name.endswith(".tmp")))]
    for p in gone:
        p.unlink()
    if gone:
        log.info("%s: --restart deleted %d files of the previous run.", output, len(gone))


class _Manifest:
    """The folder's `_manifest.json`: written before the first part, its row counts updated
    as parts are finished (at most once a second, and at the end)."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data, self.saved = path, data, 0.0

    @classmethod
    def checked(cls, output: Path, files: list[Path], parts: list[Path], settings: dict,
                model_dir: Path) -> "_Manifest":
        """This run's manifest, after refusing a folder whose parts it must not keep."""
        path = output / MANIFEST
        on_disk = sorted(p.name for p in output.iterdir() if PART_NAME.fullmatch(p.name))
        new = {"textune": "predict --engine ray", "model_path": str(model_dir.resolve()),
               "settings": settings,
               "inputs": [{**file_signature(f), "part": p.name, "rows": None}
                          for f, p in zip(files, parts)]}
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
                problems = resume_problems(old, new, on_disk)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ResumeMismatch(f"{path} cannot be read ({type(e).__name__}: {e}), so "
                                     f"the parts in {output} cannot be checked. "
                                     f"{RESTART_ADVICE}") from None
            if problems:
                raise ResumeMismatch(
                    f"{output} holds parts that resuming would keep, but they do not match "
                    f"this run: {'; '.join(problems)}. {RESTART_ADVICE}")
            rows = {i["part"]: i.get("rows") for i in old["inputs"] if i["part"] in on_disk}
            for i in new["inputs"]:
                i["rows"] = rows.get(i["part"])
        elif on_disk:
            raise ResumeMismatch(
                f"{output} holds {len(on_disk)} parts ({on_disk[0]}, ...) but no {MANIFEST}, "
                "so nothing says which inputs, model and format they came from (textune "
                f"before 0.3 wrote none). {RESTART_ADVICE}")
        manifest = cls(path, new)
        manifest.save()
        return manifest

    def rows(self, index: int) -> int | None:
        return self.data["inputs"][index]["rows"]

    def finished(self, index: int, rows: int) -> None:
        self.data["inputs"][index]["rows"] = rows
        if time.monotonic() - self.saved > 1.0:
            self.save()

    def save(self) -> None:
        write_json_atomic(self.path, self.data)
        self.saved = time.monotonic()


RESTART_ADVICE = ("Rerun with --restart (Python: restart=True) to delete its parts and "
                  "predict every input again, or pass a new --output folder.")


class _data_context:
    """Ray Data settings for this run only (a Python caller's own datasets keep theirs):
    order preserved, so the driver writes parts in input order; bars only when wanted."""

    def __init__(self, ray, progress: bool):
        self.ctx, self.progress = ray.data.DataContext.get_current(), progress

    def __enter__(self):
        self.saved = (self.ctx.execution_options.preserve_order,
                      self.ctx.enable_progress_bars)
        self.ctx.execution_options.preserve_order = True
        self.ctx.enable_progress_bars = self.progress

    def __exit__(self, *exc):
        (self.ctx.execution_options.preserve_order,
         self.ctx.enable_progress_bars) = self.saved


class _ray_data_errors_muted:
    """Ray Data logs a worker's exception with its traceback before raising it; the error
    is re-raised here, named plainly (a bad row: its file, row and line), so its log is
    muted while the dataset runs."""

    def __enter__(self):
        self.logger = logging.getLogger("ray.data")
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _start_ray(ray, address: str | None) -> None:
    """Connect (or start a local cluster); Ray's own INFO chatter stays out of our log."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)


def _pipeline(ray, model_dir: Path, files: list[Path], pending: list[int], *, backend: str,
              actors: int, batch_size: int, chunk_size: int, text_column, text_pair_column,
              quoting: str, unescape_html: bool, header: bool, predictor_cls: type):
    items = [{"file": i, "path": str(files[i].resolve())} for i in pending]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    # reading is light next to inference: it takes no CPU slot, so N actors fill N CPUs
    ds = ds.map_batches(read_files, batch_size=1, batch_format="pandas", num_cpus=0,
                        fn_kwargs=dict(chunk_size=chunk_size, text_column=text_column,
                                       text_pair_column=text_pair_column, quoting=quoting,
                                       unescape_html=unescape_html, header=header))
    return ds.map_batches(predictor_cls, batch_size=batch_size, batch_format="pandas",
                          compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=1,
                          fn_constructor_kwargs=dict(model_dir=str(model_dir.resolve()),
                                                     backend=backend,
                                                     sources=[str(f) for f in files]))


class _Driver:
    """Receives predicted rows in input order; numbers them and writes the parts."""

    def __init__(self, files: list[Path], parts: list[Path], done: dict[int, Path], fmt: str,
                 manifest: _Manifest):
        self.files, self.parts, self.done, self.fmt = files, parts, done, fmt
        self.manifest = manifest
        self.next = 0        # the next input file to account for
        self.offset = 0      # rows in the files before it
        self.predicted = 0
        self.part: _Part | None = None

    def take(self, block: pd.DataFrame) -> None:
        if not len(block):
            return
        file = block["file"].to_numpy()
        cuts = np.flatnonzero(np.diff(file)) + 1
        for start, stop in zip([0, *cuts], [*cuts, len(block)]):
            self._take_file(int(file[start]), block.iloc[start:stop])

    def _take_file(self, index: int, rows: pd.DataFrame) -> None:
        if self.part is None or self.part.index != index:
            if self.part is not None:
                raise RuntimeError(f"{self.files[self.part.index]}: rows stopped after "
                                   f"{self.part.n} before its last row arrived.")
            self._skip_done(until=index)
            self.part = _Part(self.parts[index], self.fmt, index, self.offset)
        got = rows["row"].to_numpy()
        want = np.arange(self.part.n, self.part.n + len(rows))
        if not np.array_equal(got, want):
            raise RuntimeError(f"{self.files[index]}: rows arrived out of order or twice "
                               f"(expected rows {want[0]}..{want[-1]}, got {got[:5].tolist()}"
                               "...); nothing was written for this file.")
        self.part.write(rows)
        if bool(rows["last"].iloc[-1]):
            self.part.commit()
            self.manifest.finished(index, self.part.n)
            self.offset += self.part.n
            self.predicted += self.part.n
            self.next = index + 1
            self.part = None

    def _skip_done(self, until: int) -> None:
        """Account for the complete parts before input file `until` (their rows come first)."""
        while self.next < until:
            if self.next not in self.done:
                raise RuntimeError(f"{self.files[self.next]}: no rows arrived for it.")
            rows = part_rows(self.done[self.next], self.fmt)
            expected = self.manifest.rows(self.next)
            if expected is not None and len(rows) != expected:
                raise DataError(f"{self.done[self.next]} holds {len(rows)} rows, but "
                                f"{expected} were written to it: it was changed after the "
                                f"run. {RESTART_ADVICE}")
            self.manifest.finished(self.next, len(rows))
            if not np.array_equal(rows, np.arange(self.offset, self.offset + len(rows))):
                raise DataError(
                    f"{self.done[self.next]} numbers its rows {rows[:1].tolist()}..., but "
                    f"its input file now starts at row {self.offset}: the input files "
                    f"changed since it was written. {RESTART_ADVICE}")
            self.offset += len(rows)
            self.next += 1

    def finish(self) -> None:
        if self.part is not None:
            self.abort()
            raise RuntimeError("the prediction stream ended before the last row of "
                               f"{self.files[self.part.index]}.")
        self._skip_done(until=len(self.files))
        self.manifest.save()

    def abort(self) -> None:
        if self.part is not None:
            self.part.discard()
            self.part = None
        self.manifest.save()  # the row counts of the parts finished before the error


def _user_error(e: BaseException) -> BaseException:
    """The DataError (or missing file / bad value) a worker raised, without Ray's wrapping
    and traceback; other errors as they are."""
    seen = set()
    todo = [e]
    while todo:
        x = todo.pop(0)
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        cause = getattr(x, "cause", None)
        if isinstance(x, (DataError, FileNotFoundError, ValueError)) and not _is_ray_wrapper(x):
            msg = str(x).split(_RAY_RETRY_NOTE)[0]  # Ray Data appends its retry advice
            if isinstance(x, DataError):
                return DataError(msg)
            try:
                return type(x)(msg)
            except TypeError:  # e.g. UnicodeDecodeError takes five arguments
                return ValueError(msg)
        todo += [cause, x.__cause__, x.__context__]
    return e


_RAY_RETRY_NOTE = "\nFailed to apply UDF transform"


def _is_ray_wrapper(x: BaseException) -> bool:
    return any(c.__module__.startswith("ray.") for c in type(x).__mro__)
