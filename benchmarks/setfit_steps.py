"""Fewer contrastive steps at 8 shots: what they save and what they cost, on SST-2 dev only.

setfit's schedule runs at least 20 steps (`MIN_STEPS`), which is every step of an 8-shot
binary run. With label-name anchors (SST-2's 0/1 named negative/positive) and packed steps,
this measures 10, 15 and 20 steps over seeds 10-17 (never the test set), in one process
(warm: ratios between step counts, not cold times).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/setfit_steps.py [--steps 10,15,20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="10,15,20")
    ap.add_argument("--seeds", default="10-17")
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.seeds.split("-"))

    import numpy as np

    from textune import TextClassifier, load_examples, sample_per_class

    if not (DATA / "sst2_dev.tsv").exists():
        raise SystemExit(f"SST-2 not found under {DATA}: this benchmark needs ../shared/datasets")
    train_all = load_examples(DATA / "sst2_train.tsv")
    dev = load_examples(DATA / "sst2_dev.tsv")
    names = {"0": "negative", "1": "positive"}
    rows = {int(s): [] for s in args.steps.split(",")}
    for seed in range(lo, hi + 1):
        train = sample_per_class(train_all, 8, seed)
        for steps in rows:
            clf = TextClassifier(method="setfit", seed=seed, steps=steps,
                                 verbalizers=names).fit(train)
            acc = float(np.mean(clf.predict(dev.texts) == np.asarray(dev.labels)))
            rows[steps].append((acc, clf.train_seconds_))
            print(json.dumps({"seed": seed, "steps": steps, "accuracy": round(acc, 4),
                              "train_seconds": round(clf.train_seconds_, 2)}), flush=True)
    print("\n| steps | dev accuracy (mean) | median train s |\n|---|---|---|")
    for steps, r in rows.items():
        print(f"| {steps} | {statistics.mean(a for a, _ in r):.3f} | "
              f"{statistics.median(t for _, t in r):.2f} |")


if __name__ == "__main__":
    main()
