"""Multi-label few-shot on GoEmotions: textune `setfit` and `probe` vs the `setfit` library
(`multi_target_strategy="one-vs-rest"`, paper setting: num_iterations=20, batch 16), on the
same samples, scored on the whole dev file by micro-F1.

Sample = at least N examples per label (`sample_per_class`, seeded) from the raw train file
(headerless TSV: text, comma-separated label ids, comment id; `*_labels.txt` names the ids).
Each textune system trains once (`threshold="tune"`) and is scored with four decision rules
on the same probabilities: 0.5 per label (`textune-setfit`), at least one label per comment
(`+min1`: the most probable when none reaches 0.5), thresholds tuned per label on
out-of-fold probabilities (`+tune`), and both (`+tune+min1`). Every run is a fresh process,
as users run the CLI; training time is the training call only (`train_seconds_` for textune,
less the tuning for the untuned rules; `Trainer.train()` for the library), model loading
excluded.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/multilabel_vs_setfit.py \
        --sets ekman,original --shots 8,16 --seeds 3 --systems textune-setfit,textune-probe,setfit-lib

Full fine-tuning (`--shots all`: every train row): `textune-finetune` vs `trainer-finetune`
(`transformers.Trainer`, `AutoModelForSequenceClassification` with
`problem_type="multi_label_classification"`), the same budget on both sides: MiniLM-L6,
`--epochs` passes (default 1), batch 32, learning rate 5e-5, AdamW with weight decay 0.01, 10%
warmup then linear decay, texts truncated at 64 tokens, bf16 as the engine picks it, no
validation split and no class weights; scored with 0.5 per label and `+min1` on the same
probabilities. Time = the training loop only (textune `engine_seconds`, `Trainer.train()`).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/multilabel_vs_setfit.py \
        --sets ekman --shots all --seeds 1 --systems textune-finetune,trainer-finetune

The `setfit-lib` and `trainer-finetune` systems need the `bench` extra (`make bench`).
Writes JSON to benchmarks/results/ and prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
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
DATA = ROOT.parent / "shared" / "datasets" / "goemotions"


def load(label_set: str, part: str):
    from textune import load_examples

    return load_examples(DATA / f"{label_set}_{part}.tsv", header=False, text_column="0",
                         label_column="1", label_names=DATA / f"{label_set}_labels.txt",
                         multi_label=True)


RULES = {"": dict(tuned=False, min_labels=0), "+min1": dict(tuned=False, min_labels=1),
         "+tune": dict(tuned=True, min_labels=0), "+tune+min1": dict(tuned=True, min_labels=1)}
FULL = dict(epochs=1, batch_size=32, learning_rate=5e-5, max_length=64)  # --shots all


def run_one(system: str, label_set: str, shots: int, seed: int) -> list[dict]:
    """One training run, in this (fresh) process; a row per decision rule."""
    import logging

    from sklearn.metrics import f1_score

    from textune import sample_per_class

    from textune.models.decision import Decision

    logging.basicConfig(level=logging.WARNING)
    train = load(label_set, "train")
    if shots:
        train = sample_per_class(train, shots, seed)
    dev = load(label_set, "dev")
    truth = dev.indicator(train.classes)
    if system == "setfit-lib":
        runs = [(system, *_setfit_library(train, dev, seed))]
    elif system.endswith("-finetune"):  # full train set, the same budget on both sides
        proba, seconds = (_trainer if system.startswith("trainer") else _finetune)(
            train, dev, seed)
        runs = [(system + name, Decision(True, None, rule["min_labels"]).indicator(proba),
                 seconds) for name, rule in RULES.items() if not rule["tuned"]]
    else:
        from textune import TextClassifier

        clf = TextClassifier(method=system.split("-", 1)[1], seed=seed,
                             threshold="tune").fit(train)
        proba = clf.predict_proba(dev)
        untuned = clf.train_seconds_ - clf.fit_stats_["tuning_seconds"]
        runs = [(system + name, Decision(True, clf.decision_.thresholds if rule["tuned"]
                                         else None, rule["min_labels"]).indicator(proba),
                 clf.train_seconds_ if rule["tuned"] else untuned)
                for name, rule in RULES.items()]
    return [{"system": name, "set": label_set, "shots": shots, "seed": seed,
             "n_train": len(train), "n_dev": len(dev),
             "f1_micro": float(f1_score(truth, pred, average="micro", zero_division=0)),
             "f1_macro": float(f1_score(truth, pred, average="macro", zero_division=0)),
             "labels_per_row": float(pred.sum(axis=1).mean()), "train_seconds": seconds}
            for name, pred, seconds in runs]


def _setfit_library(train, dev, seed: int):
    import numpy as np
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from textune.models.backbones import resolve_backbone

    model = SetFitModel.from_pretrained(resolve_backbone("minilm"),
                                        multi_target_strategy="one-vs-rest")
    y = train.indicator().astype(int).tolist()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, batch_size=16, num_iterations=20, num_epochs=1,
                                 seed=seed, report_to="none", show_progress_bar=False,
                                 save_strategy="no")
        trainer = Trainer(model=model, args=args,
                          train_dataset=Dataset.from_dict({"text": train.texts, "label": y}))
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    pred = model.predict(dev.texts)
    return np.asarray(pred.tolist() if hasattr(pred, "tolist") else pred), seconds


def _bf16() -> bool:
    from textune.engine.loop import mixed_precision

    return mixed_precision("auto") == "bf16"


def _finetune(train, dev, seed: int):
    from transformers import set_seed

    from textune import TextClassifier

    clf = TextClassifier(method="finetune", validation=0.0, seed=seed, bf16=_bf16(), **FULL)
    set_seed(seed)
    clf.fit(train)
    return clf.predict_proba(dev), clf.fit_stats_["engine_seconds"]


def _trainer(train, dev, seed: int):
    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainingArguments, set_seed)

    from textune.models.backbones import resolve_backbone

    path = resolve_backbone("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(train.classes), problem_type="multi_label_classification")

    def encode(ex, y=None):
        enc = tokenizer(list(ex.texts), truncation=True, max_length=FULL["max_length"])
        rows = [{k: v[i] for k, v in enc.items()} for i in range(len(ex))]
        for row, target in zip(rows, [] if y is None else y):
            row["labels"] = [float(v) for v in target]  # BCE wants float targets
        return rows

    rows = encode(train, train.indicator())
    collator = DataCollatorWithPadding(tokenizer)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, save_strategy="no", eval_strategy="no", logging_strategy="no",
            report_to="none", disable_tqdm=True, per_device_train_batch_size=FULL["batch_size"],
            num_train_epochs=FULL["epochs"], learning_rate=FULL["learning_rate"],
            weight_decay=0.01, warmup_steps=0.1,  # transformers 5: a float < 1 is a ratio
            lr_scheduler_type="linear", max_grad_norm=1.0, seed=seed, bf16=_bf16(),
            use_cpu=not torch.cuda.is_available(),
            train_sampling_strategy="group_by_length")
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator,
                          processing_class=tokenizer)
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    model.eval()
    dev_rows, logits = encode(dev), []
    with torch.inference_mode():  # in input order (trainer.predict length-groups, see
        for i in range(0, len(dev_rows), 64):  # finetune_vs_trainer.py)
            batch = collator(dev_rows[i:i + 64])
            logits.append(model(**{k: v.to(model.device) for k, v in batch.items()})
                          .logits.float().cpu().numpy())
    return 1.0 / (1.0 + np.exp(-np.concatenate(logits))), seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sets", default="ekman", help="ekman (7 labels), original (28)")
    p.add_argument("--shots", default="16", help="examples per label, comma-separated; "
                   "'all': the whole train file (the -finetune systems)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--systems", default="textune-setfit,textune-probe,setfit-lib")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                           "multilabel_vs_setfit.json"))
    p.add_argument("--one", nargs=4, metavar=("SYSTEM", "SET", "SHOTS", "SEED"),
                   help=argparse.SUPPRESS)  # the child process of one run
    args = p.parse_args(argv)
    if "all" in args.shots.split(",") and not all(
            s.endswith("-finetune") for s in args.systems.split(",")):
        p.error("--shots all (the whole train file) is for the -finetune systems only")
    if args.one:
        system, label_set, shots, seed = args.one
        print(json.dumps(run_one(system, label_set, int(shots), int(seed))))
        return 0
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return 0
    rows = []
    for label_set in args.sets.split(","):
        for shots in [0 if s == "all" else int(s) for s in args.shots.split(",")]:
            for seed in range(args.seeds):
                for system in args.systems.split(","):
                    run = subprocess.run([sys.executable, __file__, "--one", system, label_set,
                                          str(shots), str(seed)], capture_output=True,
                                         text=True)
                    if run.returncode != 0:
                        print(f"{system} {label_set} {shots} {seed} failed:\n"
                              f"{run.stderr[-2000:]}", file=sys.stderr)
                        continue
                    for row in json.loads(run.stdout.strip().splitlines()[-1]):
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    import torch

    from textune.engine.device import bf16_supported

    # bf16 units roughly halve textune's time (it autocasts where they exist), so say so
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                       f"{torch.__version__}, bf16 units: "
                       f"{'yes' if bf16_supported(torch.device('cpu')) else 'no'}"}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(summary(rows, meta))
    return 0


def summary(rows: list[dict], meta: dict) -> str:
    out = [f"date {meta['date']}; machine: {meta['machine']}", "",
           "| labels | per label | system | mean micro-F1 | per seed | macro-F1 | labels/row |"
           " median train s | speed-up vs peer |", "|---|---|---|---|---|---|---|---|---|"]
    for key in dict.fromkeys((r["set"], r["shots"]) for r in rows):
        cell = [r for r in rows if (r["set"], r["shots"]) == key]
        peer = "trainer-finetune" if key[1] == 0 else "setfit-lib"
        lib = {r["seed"]: r for r in cell if r["system"] == peer}
        for system in dict.fromkeys(r["system"] for r in cell):
            rs = [r for r in cell if r["system"] == system]
            ratios = [lib[r["seed"]]["train_seconds"] / r["train_seconds"] for r in rs
                      if r["seed"] in lib and not system.startswith(peer)]
            ratio = f"{statistics.median(ratios):.1f}x" if ratios else "-"
            out.append(f"| {key[0]} | {key[1] or 'all'} | {system} | "
                       f"{statistics.mean(r['f1_micro'] for r in rs):.3f} | "
                       + " ".join(f"{r['f1_micro']:.3f}" for r in rs)
                       + f" | {statistics.mean(r['f1_macro'] for r in rs):.3f}"
                       f" | {statistics.mean(r['labels_per_row'] for r in rs):.2f}"
                       f" | {statistics.median(r['train_seconds'] for r in rs):.1f} | {ratio} |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
