"""The compare grid: every method x shots x seed, resumable, one JSON line per finished cell.

Why this shape:
- the sample depends only on (shots, seed), so every method trains on the same texts and the
  comparison is paired (the `sample_id` field in each record shows it);
- each finished cell is appended to `results.jsonl` with flush + fsync before the next starts,
  so a killed run loses at most the cell in flight, and a rerun skips every cell already done;
- a cell that raises is recorded with its error and the grid goes on; such cells are retried on
  the next run (the error may have been transient), and readers keep the newest line per cell;
- `run.json` fingerprints the data and settings, so resuming into a folder made for other data
  is refused, naming each difference, instead of silently mixing results; `restart=True`
  (`--restart`) deletes what an earlier run wrote there and starts over.
"""

from __future__ import annotations

import dataclasses
import difflib
import gc
import hashlib
import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..artifact.manifest import value_changes, write_json_atomic
from ..data import DataError, Examples, align_labels
from ..data.sampling import sample_per_class
from .zeroshot import templated_examples

log = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
SHOTS_PLOT = "accuracy_vs_shots.png"
TIME_PLOT = "accuracy_vs_train_seconds.png"
# what a run writes in its folder: all that --restart deletes
WRITTEN = (RESULTS_FILE, RUN_FILE, "report.md", "report.html", SHOTS_PLOT, TIME_PLOT)
RESTART_ADVICE = ("Rerun with --restart (Python: restart=True) to delete its results and "
                  "start over, or pass a new --output folder.")
ALL = "all"
Shots = int | str  # a positive count per class, 0 (zero-shot) or "all"


class GridMismatch(ValueError):
    """The output folder holds results of a different comparison."""


# ------------------------------------------------------------------------------ grid specs

def parse_methods(spec: str | Sequence[str]) -> list[str]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    methods = list(dict.fromkeys(m.strip() for m in items if m.strip()))
    if not methods:
        raise ValueError("--methods is empty; name at least one, e.g. --methods probe,setfit.")
    return methods


def check_methods(methods: Iterable[str]) -> None:
    """Refuse methods textune does not have, naming the ones it does (before hours of work)."""
    from ..methods import ALIASES, METHODS

    unknown = [m for m in methods if m not in METHODS and m not in ALIASES]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; available: "
                         f"{', '.join(sorted(METHODS) + sorted(ALIASES))}.")


def parse_method_options(specs: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """['setfit:steps=40', 'lora:lora_r=16'] -> {'setfit': {'steps': 40}, 'lora': {'lora_r': 16}}.

    NAME is a declared parameter (`methods.all_knobs()`; an unknown one is refused with the
    nearest names). Values are read as JSON where they parse (40, 3e-5, true, null), else
    kept as text; text goes through the knob's command-line parser where it has one
    (`label_anchors=off`, `verbalizers=0=negative,1=positive`), and the knob's check runs."""
    from ..methods import all_knobs

    declared = all_knobs()
    out: dict[str, dict[str, Any]] = {}
    for spec in specs or []:
        method, colon, setting = spec.partition(":")
        name, eq, value = setting.partition("=")
        if not (colon and eq and method.strip() and name.strip()):
            raise ValueError(f"--method-option: {spec!r} is not METHOD:NAME=VALUE, e.g. "
                             "--method-option setfit:steps=40.")
        key = name.strip().replace("-", "_")
        if key not in declared:
            near = difflib.get_close_matches(key, list(declared), n=3, cutoff=0.6)
            raise ValueError(f"--method-option {spec!r}: textune has no parameter '{key}'; "
                             + (f"did you mean {' or '.join(near)}?" if near else
                                "`textune methods` lists each method's options."))
        out.setdefault(method.strip(), {})[key] = _option_value(declared[key], value, spec)
    return out


def _option_value(knob, value: str, spec: str) -> Any:
    """A `--method-option` value as the knob `knob` takes it; refuses one its check does."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    try:
        if isinstance(parsed, str):
            parsed = knob.from_text(parsed)
        knob.validate(parsed)
    except ValueError as e:
        raise ValueError(f"--method-option {spec!r}: {e}") from None
    return parsed


def parse_shots(spec: str | Sequence[Shots]) -> list[Shots]:
    """'0,8,16,all' -> [0, 8, 16, 'all'] (0 = zero-shot from label names, all = whole set)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[Shots] = []
    for item in items:
        s = str(item).strip().lower()
        if not s:
            continue
        if s == ALL:
            value: Shots = ALL
        else:
            try:
                value = int(s)
            except ValueError:
                value = -1
            if value < 0:
                raise ValueError(f"--shots: {item!r} is not a number of examples per class; "
                                 "use integers >= 0 or 'all', e.g. --shots 0,8,16,all.")
        if value not in out:
            out.append(value)
    if not out:
        raise ValueError("--shots is empty; e.g. --shots 8,16,64.")
    return out


def parse_seeds(spec: str | int | Sequence[int]) -> list[int]:
    """'5' -> seeds 0..4; '1,7,9' -> exactly those seeds."""
    if isinstance(spec, int):
        spec = str(spec)
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"--seeds: {spec!r} is not a list of seeds (--seeds 0,3,7; "
                             "a count is --n-seeds 5).") from None
        if len(numbers) == 1 and "," not in spec:
            if numbers[0] < 1:
                raise ValueError("--seeds needs at least 1 seed, e.g. --n-seeds 5.")
            return list(range(numbers[0]))
        return list(dict.fromkeys(numbers))
    return list(dict.fromkeys(int(s) for s in spec))


def shots_sort_key(shots: Shots) -> float:
    return float("inf") if shots == ALL else float(shots)


def cell_key(rec: Mapping[str, Any]) -> tuple[str, str, int]:
    return (str(rec["method"]), str(rec["shots"]), int(rec["seed"]))


# ------------------------------------------------------------------------------ results file

def read_results(output: str | Path) -> list[dict]:
    """Every parseable line of results.jsonl, in file order (a torn last line is skipped)."""
    path = Path(output) / RESULTS_FILE
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s line %d is incomplete (a run was killed while writing it); "
                        "ignoring it.", path, n)
    return rows


def latest_per_cell(rows: Iterable[dict]) -> dict[tuple, dict]:
    """The newest record of each cell: a success is never replaced by a later failure."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = cell_key(r)
        if key in out and out[key].get("status") == "ok" and r.get("status") != "ok":
            continue
        out[key] = r
    return out


def _append(path: Path, record: dict) -> None:
    needs_newline = False
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            needs_newline = f.read(1) != b"\n"
    with open(path, "a", encoding="utf-8") as f:
        if needs_newline:  # keep a torn line from a killed run on a line of its own
            f.write("\n")
        f.write(json.dumps(record, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------------------ fingerprint

def data_digest(ex: Examples) -> str:
    h = hashlib.sha256()
    for i, t in enumerate(ex.texts):
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
        if ex.text_pairs is not None:
            h.update(ex.text_pairs[i].encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
        h.update(repr(ex.labels[i] if ex.labels is not None else None).encode())
        h.update(b"\x1d")
    return h.hexdigest()[:16]


def check_params(methods: Sequence[str], params: Mapping[str, Any],
                 method_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Refuse, before the grid starts, a shared setting no method in the grid reads and a
    per-method setting its method does not read: either would be silently ignored."""
    from ..classifier import TextClassifier
    from ..methods import MethodParamError, honours, readers

    defaults = TextClassifier().get_params()
    for name, value in params.items():
        if name in defaults and value != defaults[name] and not any(
                honours(m, name) for m in methods):
            raise MethodParamError(
                f"no method in --methods {','.join(methods)} reads '{name}', so it would be "
                f"silently ignored; it applies to {', '.join(readers().get(name, [])) or 'none'}."
                " Drop it or add one of those methods.")
    for method, options in (method_params or {}).items():
        if method not in methods:
            raise ValueError(f"options are given for '{method}', which is not in --methods "
                             f"{','.join(methods)}.")
        for name in options:
            if name in ("method", "seed", "show_progress"):
                raise ValueError(f"'{name}' is set per cell by the grid; remove it from the "
                                 f"options of {method}.")
            if not honours(method, name):
                raise MethodParamError(
                    f"{method} does not read '{name}', so it would be silently ignored; it "
                    f"applies to {', '.join(readers().get(name, [])) or 'no method'}.")


def cell_params(method: str, params: Mapping[str, Any],
                method_params: Mapping[str, Mapping[str, Any]] | None = None) -> dict:
    """The settings one cell trains with: the shared ones its method reads, then its own."""
    from ..methods import honours

    return {**{k: v for k, v in params.items() if honours(method, k)},
            **(method_params or {}).get(method, {})}


def _with_label_names(params: dict, method: str, label_names, train: Examples) -> dict:
    """The cell's settings with `--label-words` as the verbalizers of a method that reads
    them (setfit/probe's label anchors, a causal LM's label words), unless set already."""
    from ..methods import METHODS, config_class, honours, knobs, resolve_method

    if not label_names or params.get("verbalizers") or not honours(method, "verbalizers"):
        return params
    cfg = config_class(METHODS[resolve_method(method)[0]], params.get("model", "minilm"))
    if "verbalizers" not in {k["name"] for k in knobs(cfg)}:  # peft on an encoder
        return params
    known = {str(c) for c in train.classes}
    return {**params, "verbalizers": {k: v for k, v in label_names.items() if str(k) in known}}


def canonical_params(params: Mapping[str, Any] | None) -> dict:
    """The TextClassifier settings shared by all cells, with defaults filled in, so that the
    CLI and the Python API describe the same run the same way."""
    from ..classifier import TextClassifier

    params = dict(params or {})
    for reserved in ("method", "seed", "show_progress"):
        if reserved in params:
            raise ValueError(f"'{reserved}' is set per cell by the grid; remove it from params.")
    full = TextClassifier(**params).get_params()
    for reserved in ("method", "seed", "show_progress"):
        full.pop(reserved, None)
    return full


def _fingerprint(train: Examples, test: Examples, params: dict, templates, label_names,
                 method_params=None) -> dict:
    fp = {"train": {"source": train.source, "rows": len(train), "sha": data_digest(train)},
          "eval": {"source": test.source, "rows": len(test), "sha": data_digest(test)},
          "params": params, "templates": list(templates) if templates else None,
          "label_names": dict(label_names) if label_names else None}
    if method_params:  # only when given, so runs made before per-method options still resume
        fp["method_params"] = {m: dict(o) for m, o in method_params.items()}
    return fp


def _check_run_file(output: Path, fp: dict) -> None:
    path = output / RUN_FILE
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8")).get("fingerprint", {})
        changed = [k for k in {**old, **fp}
                   if json.dumps(old.get(k), sort_keys=True, default=str)
                   != json.dumps(fp.get(k), sort_keys=True, default=str)]
        if changed:
            raise GridMismatch(
                f"{output} holds results of a comparison with different {', '.join(changed)} "
                f"({'; '.join(value_changes(old, fp))}; see {path}). Resuming would mix "
                f"them. {RESTART_ADVICE}")
    elif (output / RESULTS_FILE).exists() and read_results(output):
        raise GridMismatch(f"{output / RESULTS_FILE} exists but {path} does not, so it cannot "
                           f"be checked against this comparison. {RESTART_ADVICE}")


def _clear(output: Path) -> None:
    """--restart: delete what a compare run wrote in `output` (`WRITTEN`), nothing else."""
    gone = [output / name for name in WRITTEN if (output / name).is_file()]
    for p in gone:
        p.unlink()
    if gone:
        log.info("%s: --restart deleted %s of the previous run.", output,
                 ", ".join(p.name for p in gone))


# ------------------------------------------------------------------------------ one cell

def run_cell(method: str, shots: Shots, seed: int, sample: Examples, test: Examples,
             params: Mapping[str, Any], progress: bool = False) -> dict:
    """Train one method on one sample and score it; failures become an error record."""
    from ..classifier import TextClassifier
    from ..metrics import classification_metrics, multilabel_metrics

    rec: dict[str, Any] = {"method": method, "shots": shots, "seed": seed,
                           "n_train": len(sample), "n_test": len(test),
                           "sample_id": data_digest(sample)[:12],
                           "started": _now()}
    try:
        clf = TextClassifier(method=method, seed=seed, show_progress=progress, **params)
        clf.fit(sample)
        t0 = time.perf_counter()
        proba = clf.predict_proba(test)
        predict_seconds = time.perf_counter() - t0
        labels = clf.labels
        if clf.multi_label:  # label sets: micro-F1 is the headline (see report.headline)
            m = multilabel_metrics(test.indicator(labels), clf.decision_.indicator(proba),
                                   labels)
            rec.update(f1_micro=m["f1_micro"], subset_accuracy=m["subset_accuracy"])
        else:
            m = classification_metrics(test.labels, [labels[i] for i in proba.argmax(axis=1)],
                                       labels)
            rec.update(accuracy=m["accuracy"])
        rec.update(status="ok", f1_macro=m["f1_macro"],
                   train_seconds=clf.train_seconds_, predict_seconds=predict_seconds,
                   predict_per_second=len(test) / max(predict_seconds, 1e-9),
                   trainable_parameters=clf.fit_stats_.get("trainable_parameters"),
                   steps=clf.fit_stats_.get("contrastive_steps", clf.fit_stats_.get("steps")))
        del clf
    except Exception as e:  # noqa: BLE001 - one broken cell must not stop the grid
        log.warning("%s shots=%s seed=%s failed: %s: %s", method, shots, seed,
                    type(e).__name__, e)
        rec.update(status="error", error=f"{type(e).__name__}: {e}")
    finally:
        gc.collect()
    rec["finished"] = _now()
    return rec


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_zero_shot(train: Examples, shots: Sequence[Shots]) -> None:
    """Refuse zero-shot on text pairs before the grid starts: its training texts are label
    names put into sentences, which cannot teach how two texts relate (paraphrase,
    entailment), so every such cell would fail or guess."""
    if 0 in shots and train.multi_label:
        raise DataError(f"{train.source}: --shots 0 (zero-shot) builds one training sentence "
                        "per label name, which says nothing about texts with several labels; "
                        "drop 0 from --shots for label sets.")
    if 0 in shots and train.is_pair:
        raise DataError(f"{train.source}: --shots 0 (zero-shot) builds single training "
                        "sentences from the label names, which cannot describe how two texts "
                        "relate; text-pair data needs labelled pairs. Drop 0 from --shots, "
                        "e.g. --shots 8,16,64.")


def make_sample(train: Examples, shots: Shots, seed: int, templates=None,
                label_names=None) -> Examples:
    """The training set of a (shots, seed) cell; identical for every method."""
    if shots == ALL:
        return train
    if shots == 0:
        return templated_examples(train.classes, templates, label_names)
    return sample_per_class(train, int(shots), seed)


# ------------------------------------------------------------------------------ the grid

def run_grid(train: Examples, test: Examples, output: str | Path, *,
             methods: Sequence[str], shots: Sequence[Shots], seeds: Sequence[int],
             params: Mapping[str, Any] | None = None,
             method_params: Mapping[str, Mapping[str, Any]] | None = None,
             templates: Sequence[str] | None = None,
             label_names: Mapping[str, str] | None = None, progress: bool = False,
             on_cell: Callable[[dict], None] | None = None,
             command: str | None = None, restart: bool = False) -> list[dict]:
    """Run every (method, shots, seed) cell not yet finished in `output`; return all records.

    `params` are shared: each cell gets those its method reads (a setting no method reads is
    refused). `method_params` gives one method its own settings, e.g.
    `{"setfit": {"steps": 40}, "lora": {"lora_r": 16}}`.
    `on_cell(record)` is called after each new cell is safely on disk (progress hooks; an
    exception raised there stops the grid, and the next call resumes after that cell).
    Resuming a folder made with other data or settings raises `GridMismatch` naming the
    differences; `restart=True` deletes that folder's results and report first.
    """
    from tqdm.auto import tqdm

    methods, shots, seeds = parse_methods(methods), parse_shots(shots), parse_seeds(seeds)
    train.require_labels()
    if train.multi_label != test.multi_label:
        raise DataError(f"{test.source}: the training data has "
                        f"{'label sets' if train.multi_label else 'one label per row'} but the "
                        "evaluation data does not; read both the same way (--multi-label).")
    check_zero_shot(train, shots)
    if test.labels is None:
        raise DataError(f"{test.source}: the evaluation data needs labels.")
    # the evaluation labels as training spells them (a CSV's "1" is a JSONL's 1)
    test = dataclasses.replace(test, labels=align_labels(test, train.classes))
    params = canonical_params(params)
    check_params(methods, params, method_params)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if restart:
        _clear(output)
    fp = _fingerprint(train, test, params, templates, label_names, method_params)
    _check_run_file(output, fp)
    write_json_atomic(output / RUN_FILE, {"fingerprint": fp, "command": command,
                                          "updated": _now()})

    done = {k for k, r in latest_per_cell(read_results(output)).items()
            if r.get("status") == "ok"}
    cells = [(m, s, seed) for s in shots for seed in seeds for m in methods]
    todo = [c for c in cells if (c[0], str(c[1]), c[2]) not in done]
    if len(todo) < len(cells):
        log.info("resuming: %d of %d cells already done in %s", len(cells) - len(todo),
                 len(cells), output / RESULTS_FILE)
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc="compare", unit="cell",
               disable=not progress)
    samples: dict[tuple, Examples] = {}
    try:
        for i, (method, s, seed) in enumerate(todo, 1):
            if (s, seed) not in samples:
                samples.clear()  # keep one sample in memory
                samples[(s, seed)] = make_sample(train, s, seed, templates, label_names)
            bar.set_postfix_str(f"{method} shots={s} seed={seed}")
            rec = run_cell(method, s, seed, samples[(s, seed)], test,
                           _with_label_names(cell_params(method, params, method_params),
                                             method, label_names, train), progress)
            _append(output / RESULTS_FILE, rec)
            bar.update(1)
            if rec["status"] == "ok":
                score = "f1_micro" if "f1_micro" in rec else "accuracy"
                log.info("[%d/%d] %s shots=%s seed=%s: %s %.3f, macro-F1 %.3f, trained "
                         "in %.1fs", i, len(todo), method, s, seed, score, rec[score],
                         rec["f1_macro"], rec["train_seconds"])
            if on_cell is not None:
                on_cell(rec)
    finally:
        bar.close()
    latest = latest_per_cell(read_results(output))
    return [latest[(m, str(s), seed)] for m, s, seed in cells if (m, str(s), seed) in latest]
