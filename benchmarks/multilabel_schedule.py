"""How few contrastive steps a multi-label setfit run needs: GoEmotions ekman, 16 per label,
textune `setfit` with explicit (steps, batch of distinct texts, learning rate), scored on
the dev file by micro-F1 at 0.5 and with `--min-labels 1`. This is how the multi-label
default schedule was chosen (on dev, as the issue allows; test is not in the shared data).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/multilabel_schedule.py --seeds 2 \
        --configs 140:16:5e-5,70:16:1e-4,70:8:1e-4

Each config is steps:batch:learning_rate. All runs share one process (the model loads
once per run all the same); train seconds exclude loading. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from multilabel_vs_setfit import load  # noqa: E402


def main() -> None:
    import logging

    from sklearn.metrics import f1_score

    from textune import TextClassifier, sample_per_class
    from textune.models.decision import Decision

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="140:16:5e-5,70:16:1e-4,70:8:1e-4")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--dev-rows", type=int, default=0, help="score on the first N dev rows "
                   "(0: all)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    train_all, dev = load("ekman", "train"), load("ekman", "dev")
    if args.dev_rows:
        dev = dev.subset(range(args.dev_rows))
    rows = []
    for config in args.configs.split(","):
        steps, batch, lr = config.split(":")
        for seed in range(args.seeds):
            train = sample_per_class(train_all, 16, seed)
            truth = dev.indicator(train.classes)
            clf = TextClassifier(method="setfit", seed=seed, steps=int(steps),
                                 batch_size=int(batch), learning_rate=float(lr)).fit(train)
            proba = clf.predict_proba(dev)
            row = {"config": config, "seed": seed, "train_seconds": clf.train_seconds_}
            for name, min_labels in (("f1", 0), ("f1_min1", 1)):
                pred = Decision(True, None, min_labels).indicator(proba)
                row[name] = float(f1_score(truth, pred, average="micro", zero_division=0))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("| steps:batch:lr | micro-F1 (mean) | +min1 (mean) | per seed +min1 | train s |")
    print("|---|---|---|---|---|")
    for config in args.configs.split(","):
        rs = [r for r in rows if r["config"] == config]
        print(f"| {config} | {statistics.mean(r['f1'] for r in rs):.3f} | "
              f"{statistics.mean(r['f1_min1'] for r in rs):.3f} | "
              f"{' '.join(format(r['f1_min1'], '.3f') for r in rs)} | "
              f"{statistics.median(r['train_seconds'] for r in rs):.1f} |")


if __name__ == "__main__":
    main()
