"""textune `setfit` and `probe` vs the `setfit` library on SST-2, same samples, same run.

Sample = first N per class after `random.Random(seed).shuffle(train)` (the protocol of the
reference figures in ../shared/datasets/README.md). Training time is the training call only
(model loading excluded for every system): `TextClassifier.fit` minus backbone loading
(`train_seconds_`) and `setfit.Trainer.train()`.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/fewshot_vs_setfit.py --shots 8,64 --seeds 5

`--fresh-process` runs every (system, shots, seed) in its own new Python process, as a user
runs `textune train` or a setfit script: the training call then pays the first-step costs
(kernel set-up on each new padded shape, lazy imports) that a warm benchmark process hides.
Its table adds each process's wall time (imports, loading, training, evaluation).

`--verbalizers 0=negative,1=positive` names SST-2's id labels, so textune's setfit and probe
add label-name anchors (`label_anchors`); the system `setfit-lib+anchors` trains the setfit
library on the same anchor sentences added to its samples (the same idea done by hand).

Needs the `bench` extra (pip install -e '.[bench]'). Writes JSON to benchmarks/results/ and
prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def run_setfit_library(train, test_texts, test_labels, seed: int) -> dict:
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.metrics import accuracy_score

    from textune.models.backbones import resolve_backbone

    model = SetFitModel.from_pretrained(resolve_backbone("minilm"))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, batch_size=16, num_iterations=20, num_epochs=1,
                                 seed=seed, report_to="none", show_progress_bar=False,
                                 save_strategy="no")
        trainer = Trainer(model=model, args=args,
                          train_dataset=Dataset.from_dict({"text": train.texts,
                                                           "label": train.labels}),
                          metric=lambda p, r: {"accuracy": accuracy_score(r, p)})
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    pred = model.predict(test_texts)
    pred = pred.tolist() if hasattr(pred, "tolist") else list(pred)
    return {"accuracy": accuracy_score(test_labels, pred), "train_seconds": seconds}


def with_anchors(train, verbalizers):
    """`train` with the label-name anchors textune would add (for the setfit library)."""
    import numpy as np

    from textune.methods.anchors import add_label_anchors

    y = np.array([train.classes.index(v) for v in train.labels])
    return add_label_anchors(train, y, True, verbalizers)[0]


def run_textune(method: str, train, test, seed: int, verbalizers=None) -> dict:
    from textune import TextClassifier

    clf = TextClassifier(method=method, seed=seed, verbalizers=verbalizers).fit(train)
    m = clf.evaluate(test)
    return {"accuracy": m["accuracy"], "train_seconds": clf.train_seconds_}


def run_one(system: str, train, test, seed: int, verbalizers=None) -> dict:
    if system == "setfit-lib":
        return run_setfit_library(train, test.texts, test.labels, seed)
    if system == "setfit-lib+anchors":
        return run_setfit_library(with_anchors(train, verbalizers), test.texts, test.labels,
                                  seed)
    return run_textune(system.split("-", 1)[1], train, test, seed, verbalizers)


def run_in_fresh_process(system: str, shots: int, seed: int, verbalizers: str | None) -> dict:
    t0 = time.perf_counter()
    names = ["--verbalizers", verbalizers] if verbalizers else []
    out = subprocess.run([sys.executable, __file__, "--one", f"{system}:{shots}:{seed}",
                          *names], capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {**r, "process_seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shots", default="8,64", help="examples per class, comma-separated")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per shots value")
    p.add_argument("--systems", default="textune-setfit,textune-probe,setfit-lib")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                           "fewshot_vs_setfit.json"))
    p.add_argument("--fresh-process", action="store_true",
                   help="each run in its own new Python process (cold, as users run it)")
    p.add_argument("--verbalizers", help="names for the id labels, e.g. "
                   "0=negative,1=positive: textune adds label-name anchors")
    p.add_argument("--one", help=argparse.SUPPRESS)  # SYSTEM:SHOTS:SEED, for --fresh-process
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not (DATA / "sst2_train.tsv").exists():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return 0
    from textune import load_examples, sample_per_class
    from textune.compare import parse_label_names

    train_all = load_examples(DATA / "sst2_train.tsv")
    test = load_examples(DATA / "sst2_test.tsv")
    names = parse_label_names(args.verbalizers) or None
    if args.one:
        system, shots, seed = args.one.split(":")
        print(json.dumps(run_one(system, sample_per_class(train_all, int(shots), int(seed)),
                                 test, int(seed), names)))
        return 0
    systems = args.systems.split(",")
    rows = []
    for shots in [int(s) for s in args.shots.split(",")]:
        for seed in range(args.seeds):
            train = sample_per_class(train_all, shots, seed)
            for system in systems:
                if args.fresh_process:
                    r = run_in_fresh_process(system, shots, seed, args.verbalizers)
                else:
                    r = run_one(system, train, test, seed, names)
                row = {"shots": shots, "seed": seed, "system": system, **r}
                rows.append(row)
                print(json.dumps(row), flush=True)
    import torch

    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                       f"{torch.__version__}, threads {torch.get_num_threads()}",
            "fresh_process": args.fresh_process}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(summary(rows, meta))
    return 0


def summary(rows: list[dict], meta: dict) -> str:
    out = [f"date {meta['date']}; machine: {meta['machine']}", "",
           "| shots | system | mean accuracy | per-seed accuracy | median train s |"
           " median speed-up vs setfit-lib | median process s |", "|---|---|---|---|---|---|---|"]
    for shots in sorted({r["shots"] for r in rows}):
        lib = {r["seed"]: r for r in rows
               if r["shots"] == shots and r["system"] == "setfit-lib"}
        for system in dict.fromkeys(r["system"] for r in rows):
            rs = [r for r in rows if r["shots"] == shots and r["system"] == system]
            ratios = [lib[r["seed"]]["train_seconds"] / r["train_seconds"] for r in rs
                      if r["seed"] in lib]
            ratio = (f"{statistics.median(ratios):.1f}x"
                     if ratios and not system.startswith("setfit-lib") else "-")
            out.append(f"| {shots} | {system} | {statistics.mean(r['accuracy'] for r in rs):.3f} | "
                       + " ".join(f"{r['accuracy']:.3f}" for r in rs)
                       + f" | {statistics.median(r['train_seconds'] for r in rs):.2f} | {ratio} | "
                       + (f"{statistics.median(r['process_seconds'] for r in rs):.1f} |"
                          if all("process_seconds" in r for r in rs) else "- |"))
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
