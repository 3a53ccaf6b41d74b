"""Accuracy ideas that change only the head, measured on SST-2 **dev** (never test).

Per seed: 8 sentences per class (`sample_per_class`), one setfit run with its defaults, then
on the trained body's embeddings: the logistic head at several C, C picked by leave-one-out
on the 16 shots, class prototypes (cosine to the class means), a probe on the frozen body, and
the probe + setfit heads' probabilities averaged (an ensemble that would embed twice).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/setfit_heads.py

Prints one JSON row per seed and the means (for docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SEEDS = range(10, 18)  # the dev seeds of the earlier ablations
CS = [0.01, 0.1, 1.0, 10.0, 100.0]


def main() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_score

    from textune import TextClassifier, load_examples, sample_per_class
    from textune.models.encoder import Encoder
    from textune.models.heads import LogisticHead

    if not (DATA / "sst2_dev.tsv").exists():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return
    train_all = load_examples(DATA / "sst2_train.tsv")
    dev = load_examples(DATA / "sst2_dev.tsv")
    frozen = Encoder.load("minilm")
    frozen_dev = frozen.embed(dev.texts)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    rows = {}
    for seed in SEEDS:
        train = sample_per_class(train_all, 8, seed)
        clf = TextClassifier(method="setfit", seed=seed).fit(train)
        body = clf.model_.encoder
        x_train, x_dev = body.embed(train.texts), body.embed(dev.texts)
        classes = list(clf.classes_)
        y_train = np.array([classes.index(v) for v in train.labels])
        y_dev = np.array([classes.index(v) for v in dev.labels])
        acc = lambda proba: float((proba.argmax(1) == y_dev).mean())  # noqa: E731
        row = {f"C={c:g}": acc(LogisticHead(C=c).fit(x_train, y_train, seed).predict_proba(x_dev))
               for c in CS}
        loo = {c: cross_val_score(LogisticRegression(C=c, max_iter=1000), x_train, y_train,
                                  cv=LeaveOneOut()).mean() for c in CS}
        row["loo_C"] = max(CS, key=lambda c: (loo[c], c == 1.0))  # ties: the default
        row["C=loo"] = row[f"C={row['loo_C']:g}"]
        protos = unit(np.stack([unit(x_train)[y_train == k].mean(0)
                                for k in range(len(classes))]))
        row["prototypes"] = acc(unit(x_dev) @ protos.T)
        probe = LogisticHead().fit(frozen.embed(train.texts), y_train, seed)
        row["probe"] = acc(probe.predict_proba(frozen_dev))
        setfit = LogisticHead().fit(x_train, y_train, seed)
        row["probe+setfit"] = acc(probe.predict_proba(frozen_dev) + setfit.predict_proba(x_dev))
        row["train_s"] = clf.train_seconds_
        rows[seed] = row
        print(seed, json.dumps(row), flush=True)
    keys = [k for k in rows[SEEDS[0]] if k not in ("loo_C", "train_s")]
    print(json.dumps({k: round(float(np.mean([r[k] for r in rows.values()])), 4)
                      for k in keys}))


if __name__ == "__main__":
    main()
