"""Which multi-label choices pay off for textune `setfit` on GoEmotions (dev, all rows)?

1. Pair targets: "overlap" (the default `cosine` loss: a pair is positive when the two label
   sets share a label, target cosine 1) vs `jaccard` (target |A & B| / |A | B|).
2. Head: one-vs-rest logistic regressions (what textune saves) vs a classifier chain
   (scikit-learn `ClassifierChain`, each label also sees the labels before it: a head that
   learns label correlations), on the same trained body's embeddings.

Each is scored with the decision rules of `multilabel_vs_setfit.py` (0.5, +min1, +tune,
+tune+min1; the chain has no tuned thresholds). Micro-F1 only: both variants run in one
process, so their times are not comparable and are not reported.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/multilabel_ablation.py --shots 16 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from multilabel_vs_setfit import DATA, RULES, load  # noqa: E402


def run(label_set: str, shots: int, seed: int) -> list[dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.multioutput import ClassifierChain

    from textune import TextClassifier, sample_per_class
    from textune.models.decision import Decision

    train = sample_per_class(load(label_set, "train"), shots, seed)
    dev = load(label_set, "dev")
    truth = dev.indicator(train.classes)
    rows = []

    def score(variant: str, pred) -> None:
        rows.append({"set": label_set, "shots": shots, "seed": seed, "variant": variant,
                     "f1_micro": float(f1_score(truth, pred, average="micro",
                                                zero_division=0))})

    for loss in ("cosine", "jaccard"):
        clf = TextClassifier(method="setfit", loss=loss, seed=seed, threshold="tune").fit(train)
        proba = clf.predict_proba(dev)
        for name, rule in RULES.items():
            score(f"{loss}{name}", Decision(True, clf.decision_.thresholds if rule["tuned"]
                                            else None, rule["min_labels"]).indicator(proba))
        if loss == "cosine":  # the chain head on the same body
            enc = clf.encoder_
            chain = ClassifierChain(LogisticRegression(max_iter=1000, class_weight="balanced"),
                                    order="random", random_state=seed)
            chain.fit(enc.embed(train.texts), train.indicator())
            chain_proba = chain.predict_proba(enc.embed(dev.texts))
            for name, rule in RULES.items():
                if not rule["tuned"]:
                    score(f"cosine, chain head{name}",
                          Decision(True, None, rule["min_labels"]).indicator(chain_proba))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--set", default="ekman")
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return 0
    import logging

    logging.basicConfig(level=logging.WARNING)
    rows = []
    for seed in range(args.seeds):
        for row in run(args.set, args.shots, seed):
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n| variant | mean micro-F1 ({args.set}, {args.shots} per label) | per seed |")
    print("|---|---|---|")
    for variant in dict.fromkeys(r["variant"] for r in rows):
        f1 = [r["f1_micro"] for r in rows if r["variant"] == variant]
        print(f"| {variant} | {statistics.mean(f1):.3f} | "
              + " ".join(f"{v:.3f}" for v in f1) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
