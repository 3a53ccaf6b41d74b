"""textune `finetune` and `peft --peft lora` vs `transformers.Trainer` (+ `peft`) on MRPC pairs.

Same backbone (MiniLM-L6, `resolve_backbone("minilm")`), same training rows, batch size, epochs,
learning rate, seed and bf16 setting; the two systems alternate within each seed, in one process.
Recipe on both sides: AdamW (weight decay 0.01), 10% linear warmup then linear decay, gradient
clipping at 1.0, pairs tokenised together and truncated to 256 tokens, dynamic padding,
length-grouped batches; LoRA r=8, alpha=16, dropout 0.1 on query/value, head trained in full.
Every run seeds the global RNG just before its model is built, so both systems start from the same
classification head (and the same LoRA init) for a given seed.

Training time is the training loop only, excluding model loading and tokenisation: textune's
`fit_stats_["engine_seconds"]`, and `Trainer.train()` wall time. Throughput is training examples x
epochs / that time. Accuracy and F1 (positive class = paraphrase, label 1, as MRPC reports it; and
macro F1) are computed by scikit-learn from `clf.predict` and `trainer.predict` on the test split.
The Trainer reads an in-memory list of tokenised rows (its fastest input; no Arrow dataset), so its
time is not inflated by `datasets` row access.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/finetune_vs_trainer.py --systems finetune,lora --seeds 3

Smoke test (a minute or two on 2 cores):

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/finetune_vs_trainer.py --train-limit 64 \\
        --test-limit 64 --epochs 1

Needs `peft` and the `bench` extra (pip install -e '.[bench]'). Writes JSON to
benchmarks/results/finetune_vs_trainer-<timestamp>.json and prints a markdown table for
docs/benchmarks.md. Trainer output goes to a temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"

BACKBONE = "minilm"
MAX_LENGTH = 256
DEFAULT_LR = {"finetune": 5e-5, "lora": 5e-4}
LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.1, "target_modules": ["query", "value"]}
SYSTEMS = ("finetune", "lora")
POSITIVE = 1  # MRPC: 1 = paraphrase

log = logging.getLogger("finetune_vs_trainer")


def set_threads() -> int:
    """Every core this process may use, the same for both systems."""
    import torch

    from textune.serving.onnx import cpu_threads

    n = cpu_threads()
    torch.set_num_threads(n)
    return n


def scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    y_true, y_pred = [int(v) for v in y_true], [int(v) for v in y_pred]
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "f1": float(f1_score(y_true, y_pred, pos_label=POSITIVE, zero_division=0)),
            "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "predicted_positive": sum(p == POSITIVE for p in y_pred), "n_test": len(y_true)}


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 20 ms), and
    its growth over the start: both systems share one process, so the growth is the fairer
    figure."""

    def __enter__(self):
        import threading

        import psutil

        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(0.02):
                self.peak = max(self.peak, self._proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    def as_dict(self) -> dict:
        return {"peak_rss_mib": self.peak / 2**20,
                "peak_rss_growth_mib": (self.peak - self.start) / 2**20}


def run_textune(method: str, train, test, *, epochs: int, batch_size: int, lr: float,
                seed: int, bf16: bool) -> dict:
    from transformers import set_seed

    from textune import TextClassifier
    from textune.metrics import classification_metrics

    kind = {"method": "finetune"} if method == "finetune" else {"method": "peft", "peft": "lora"}
    clf = TextClassifier(model=BACKBONE, epochs=epochs, batch_size=batch_size, learning_rate=lr,
                         validation=0.0, seed=seed, bf16=bf16, **kind)
    threads = set_threads()
    set_seed(seed)  # textune builds the head inside fit(): seed it as the peer's is seeded
    with PeakRSS() as mem:
        clf.fit(train)
    s = clf.fit_stats_
    pred = clf.predict(test)
    report = classification_metrics(test.labels, pred.tolist(), list(clf.classes_))
    return {"train_seconds": s["engine_seconds"],
            "examples_per_second": s["examples_per_second"],
            "setup_seconds": s["train_seconds"] - s["engine_seconds"],
            "trainable_parameters": int(s["trainable_parameters"]),
            "total_parameters": s.get("total_parameters"), "steps": s["steps"],
            "threads": threads, "threads_after": _threads(),
            **scores(test.labels, pred), "per_class": report["per_class"],
            "health_warnings": s.get("health_warnings", []), **mem.as_dict()}


def _encode(tokenizer, ex, with_labels: bool) -> list[dict]:
    enc = tokenizer(list(ex.texts), list(ex.text_pairs), truncation=True, max_length=MAX_LENGTH)
    rows = [{k: v[i] for k, v in enc.items()} for i in range(len(ex))]
    if with_labels:
        for row, y in zip(rows, ex.labels):
            row["labels"] = int(y)
    return rows


def _predict_in_order(model, rows: list[dict], collator, batch_size: int = 64):
    """Logits for `rows` in their original order, in fp32 (as textune predicts)."""
    import numpy as np
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(rows), batch_size):
            batch = collator(rows[i:i + batch_size])
            batch = {k: v.to(model.device) for k, v in batch.items() if k != "labels"}
            out.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(out)


def run_trainer(method: str, train, test, *, epochs: int, batch_size: int, lr: float,
                seed: int, bf16: bool) -> dict:
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainingArguments, set_seed)
    from transformers.trainer_callback import PrinterCallback

    from textune.models.backbones import resolve_backbone

    t0 = time.perf_counter()
    threads = set_threads()
    path = resolve_backbone(BACKBONE)
    tokenizer = AutoTokenizer.from_pretrained(path)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", **LORA))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    train_rows = _encode(tokenizer, train, with_labels=True)
    test_rows = _encode(tokenizer, test, with_labels=False)
    with tempfile.TemporaryDirectory(prefix="finetune_vs_trainer-") as out:
        args = TrainingArguments(
            output_dir=out, save_strategy="no", eval_strategy="no", logging_strategy="no",
            report_to="none", disable_tqdm=True,
            per_device_train_batch_size=batch_size, per_device_eval_batch_size=64,
            num_train_epochs=epochs, learning_rate=lr, weight_decay=0.01,
            warmup_steps=0.1,  # transformers 5: a float < 1 is the warmup ratio
            lr_scheduler_type="linear", max_grad_norm=1.0, seed=seed, bf16=bf16,
            use_cpu=not torch.cuda.is_available(),
            train_sampling_strategy="group_by_length")  # was group_by_length=True before v5
        trainer = Trainer(model=model, args=args, train_dataset=train_rows,
                          data_collator=DataCollatorWithPadding(tokenizer),
                          processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)  # it prints the final metrics dict to stdout
        setup = time.perf_counter() - t0
        t1 = time.perf_counter()
        with PeakRSS() as mem:
            result = trainer.train()
        seconds = time.perf_counter() - t1
        threads_after = _threads()
        # Not trainer.predict: in transformers 5, train_sampling_strategy="group_by_length"
        # also length-groups the *evaluation* sampler, so predictions come back shuffled
        # relative to the inputs (accuracy fell to ~0.58 on MRPC, chance for this label mix).
        logits = _predict_in_order(trainer.model, test_rows, DataCollatorWithPadding(tokenizer))
        leftovers = sorted(p.name for p in Path(out).iterdir())
    logits = logits[0] if isinstance(logits, tuple) else logits
    pred = logits.argmax(axis=-1)
    return {"train_seconds": seconds, "examples_per_second": len(train) * epochs / seconds,
            "setup_seconds": setup, "trainable_parameters": int(trainable),
            "total_parameters": int(total), "steps": int(result.global_step),
            "trainer_train_runtime": result.metrics.get("train_runtime"),
            "train_loss": result.training_loss, "threads": threads,
            "threads_after": threads_after, "output_dir_files": leftovers,
            **scores(test.labels, pred), **mem.as_dict()}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def resolve_bf16(setting: str) -> bool:
    """'auto' means what textune's engine picks on this machine; both systems then get it."""
    if setting != "auto":
        return setting == "on"
    from textune.engine.loop import mixed_precision

    return mixed_precision("auto") == "bf16"


def versions() -> dict:
    import importlib.metadata as md

    out = {}
    for name in ("textune", "torch", "transformers", "peft", "accelerate", "scikit-learn"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--systems", default="finetune,lora",
                   help="comparisons to run, comma-separated: finetune, lora")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate for every system (default: finetune 5e-5, lora 5e-4)")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training rows (smoke tests)")
    p.add_argument("--test-limit", type=int, default=None,
                   help="evaluate on only the first N test rows (smoke tests)")
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                   help="bf16 autocast for both systems; auto = where the hardware has it")
    p.add_argument("--output", default=None, help="results JSON (default: benchmarks/results/"
                                                  "finetune_vs_trainer-<timestamp>.json)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    methods = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(methods) - set(SYSTEMS))
    if unknown:
        p.error(f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    train_path, test_path = DATA / "mrpc_train.tsv", DATA / "mrpc_test.tsv"
    if not (train_path.exists() and test_path.exists()):
        sys.exit(f"finetune_vs_trainer: {train_path} / {test_path} not found (the shared datasets "
                 "live in ../shared/datasets beside the checkout)")

    import torch
    import transformers

    from textune import load_examples

    transformers.logging.set_verbosity_error()  # no load reports / notices on stdout
    train = load_examples(train_path)
    test = load_examples(test_path)
    if not train.is_pair:
        sys.exit(f"finetune_vs_trainer: {train_path} was not read as sentence pairs")
    if args.train_limit:
        train = train.subset(range(min(args.train_limit, len(train))))
    if args.test_limit:
        test = test.subset(range(min(args.test_limit, len(test))))
    bf16 = resolve_bf16(args.bf16)
    threads = set_threads()
    log.info("MRPC: %d training pairs, %d test pairs; bf16 %s; %d threads", len(train), len(test),
             bf16, threads)

    stamp = datetime.now(timezone.utc)
    output = Path(args.output) if args.output else (
        RESULTS / f"finetune_vs_trainer-{stamp.strftime('%Y%m%dT%H%M%SZ')}.json")
    meta = {"date": stamp.isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
            "torch_threads": threads, "cuda": torch.cuda.is_available(),
            "versions": versions()}
    config = {"backbone": BACKBONE, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": {m: args.lr or DEFAULT_LR[m] for m in methods}, "bf16": bf16,
              "bf16_setting": args.bf16, "max_length": MAX_LENGTH, "lora": LORA,
              "n_train": len(train), "n_test": len(test), "seeds": list(range(args.seeds))}
    rows = []
    systems = [("textune", run_textune), ("transformers.Trainer", run_trainer)]
    # Untimed warm-up of both systems: the first bf16 run in a process pays for kernel
    # selection and allocator growth, which would otherwise penalise whoever runs first.
    warm = train.subset(range(min(64, len(train))))
    for method in methods:
        for system, run in systems:
            log.info("warm-up: %s, %s", method, system)
            run(method, warm, test.subset(range(min(16, len(test)))), epochs=1,
                batch_size=args.batch_size, lr=args.lr or DEFAULT_LR[method], seed=0, bf16=bf16)
    for seed in range(args.seeds):
        for method in methods:
            lr = args.lr or DEFAULT_LR[method]
            # alternate who goes first, so neither system always meets a warmer machine
            for system, run in (systems if seed % 2 == 0 else systems[::-1]):
                log.info("seed %d, %s, %s: training (lr %g)", seed, method, system, lr)
                r = run(method, train, test, epochs=args.epochs, batch_size=args.batch_size,
                        lr=lr, seed=seed, bf16=bf16)
                row = {"seed": seed, "method": method, "system": system, "learning_rate": lr,
                       **r}
                rows.append(row)
                log.info("seed %d, %s, %s: accuracy %.3f, F1 %.3f, %.1f s, %.1f examples/s",
                         seed, method, system, r["accuracy"], r["f1"], r["train_seconds"],
                         r["examples_per_second"])
                # Write after every run: a long benchmark keeps what it has measured.
                output.parent.mkdir(parents=True, exist_ok=True)
                output.write_text(json.dumps({"meta": meta, "config": config, "rows": rows},
                                             indent=1, default=str))
    log.info("wrote %s", output)
    print(summary(rows, meta, config))
    return 0


def summary(rows: list[dict], meta: dict, config: dict) -> str:
    v = meta["versions"]
    out = [f"date {meta['date']}; {meta['machine']}, {meta['cpus_usable']} cores, torch "
           f"{v['torch']}, transformers {v['transformers']}, peft {v['peft']}, textune "
           f"{v['textune']}; MRPC {config['n_train']} train / {config['n_test']} test pairs, "
           f"{config['epochs']} epochs, batch {config['batch_size']}, bf16 {config['bf16']}, "
           f"seeds {len(config['seeds'])} (accuracy and F1: mean over seeds; time and "
           "throughput: median)", "",
           "| system | method | accuracy | F1 (positive class) | train seconds | examples/s |"
           " peak RSS growth MiB | trainable params |", "|---|---|---|---|---|---|---|---|"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for method in methods:
        for system in dict.fromkeys(r["system"] for r in rows):
            rs = [r for r in rows if r["method"] == method and r["system"] == system]
            if not rs:
                continue
            out.append(f"| {system} | {method} | {statistics.mean(r['accuracy'] for r in rs):.3f} "
                       f"| {statistics.mean(r['f1'] for r in rs):.3f} "
                       f"| {statistics.median(r['train_seconds'] for r in rs):.1f} "
                       f"| {statistics.median(r['examples_per_second'] for r in rs):.1f} "
                       f"| {max(r['peak_rss_growth_mib'] for r in rs):.0f} "
                       f"| {rs[0]['trainable_parameters']:,} |")
    out.append("")
    for method in methods:
        peer = {r["seed"]: r for r in rows
                if r["method"] == method and r["system"] == "transformers.Trainer"}
        ratios = [r["examples_per_second"] / peer[r["seed"]]["examples_per_second"] for r in rows
                  if r["method"] == method and r["system"] == "textune" and r["seed"] in peer]
        if ratios:
            out.append(f"{method}: textune examples/s / Trainer examples/s = "
                       f"{statistics.median(ratios):.2f}x (median over {len(ratios)} seed(s): "
                       + ", ".join(f"{x:.2f}" for x in ratios) + ")")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
