"""How fast setfit trains on long documents, and what each speed setting costs in accuracy.

BBC News, N articles per topic to train (`sample_per_class(all, N, seed)`), M per topic of
the rest to test (`sample_per_class(rest, M, 1000)`). One configuration per call, set with
`--set NAME=VALUE` (any `TextClassifier` parameter, e.g. `train_max_length=64`,
`freeze_layers=4`, `steps=20`; `None` for None), every seed in one process. Training time is
`train_seconds_` (backbone loading excluded), contrastive time the contrastive phase alone.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_training.py --set train_max_length=64

Prints one JSON line per seed and a summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def value(text: str):
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="setfit")
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--test", type=int, default=40, help="held-out articles per topic")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()

    from textune import TextClassifier, sample_per_class
    from textune.demo import bbc_news

    params = {k: value(v) for k, v in (s.split("=", 1) for s in args.set)}
    data = bbc_news()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        train = sample_per_class(data, args.shots, seed)
        taken = set(train.texts)
        rest = data.subset([i for i, t in enumerate(data.texts) if t not in taken])
        test = sample_per_class(rest, args.test, 1000)
        clf = TextClassifier(method=args.method, seed=seed, **params).fit(train)
        t0 = time.perf_counter()
        acc = clf.evaluate(test)["accuracy"]
        rows.append({"seed": seed, "accuracy": acc, "train_seconds": clf.train_seconds_,
                     "contrastive_seconds": clf.fit_stats_.get("contrastive_seconds"),
                     "predict_seconds": time.perf_counter() - t0})
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"method": args.method, **params,
                      "mean_accuracy": statistics.mean(r["accuracy"] for r in rows),
                      "mean_train_seconds": statistics.mean(r["train_seconds"] for r in rows)}))


if __name__ == "__main__":
    main()
