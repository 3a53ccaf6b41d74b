"""Label-name anchors (`label_anchors`), on and off, tuned and checked on dev sets only.

Per dataset and seed: 8 texts per class (`sample_per_class`), then setfit and probe with
their defaults, once with `label_anchors=False` and once with `"auto"` (the label names in
4 sentence templates, added to the training examples). Datasets:

- SST-2 dev (872 sentences), seeds 10-17; the 0/1 labels named negative/positive, as
  `--label-names` does for a user;
- GoEmotions ekman dev, the texts with one emotion (7 classes), 100 per class, seeds 10-12;
- BBC News (5 topics), 200 held-out articles (40 per topic), seeds 0-2.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/label_anchors.py [--datasets sst2,ekman,bbc]

Prints one JSON row per run and a summary per dataset (for docs/benchmarks.md).
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
SST2_NAMES = {"0": "negative", "1": "positive"}


def named(ex, names):
    from textune.data import Examples

    return Examples(texts=list(ex.texts), labels=[names[str(v)] for v in ex.labels])


def one_emotion(part: str):
    from textune import load_examples
    from textune.data import Examples

    g = DATA / "goemotions"
    ex = load_examples(g / f"ekman_{part}.tsv", header=False, text_column="0",
                       label_column="1", label_names=g / "ekman_labels.txt", multi_label=True)
    keep = [i for i, labels in enumerate(ex.labels) if len(labels) == 1]
    return Examples(texts=[ex.texts[i] for i in keep], labels=[ex.labels[i][0] for i in keep])


def splits(name: str):
    """(seeds, a function seed -> (train, test))."""
    from textune import load_examples, sample_per_class

    if name == "sst2":
        pool = named(load_examples(DATA / "sst2_train.tsv"), SST2_NAMES)
        dev = named(load_examples(DATA / "sst2_dev.tsv"), SST2_NAMES)
        return range(10, 18), lambda seed: (sample_per_class(pool, 8, seed), dev)
    if name == "ekman":
        pool, dev = one_emotion("train"), sample_per_class(one_emotion("dev"), 100, 1000)
        return range(10, 13), lambda seed: (sample_per_class(pool, 8, seed), dev)
    from textune.demo import bbc_news

    data = bbc_news()

    def bbc(seed):
        train = sample_per_class(data, 8, seed)
        taken = set(train.texts)
        rest = data.subset([i for i, t in enumerate(data.texts) if t not in taken])
        return train, sample_per_class(rest, 40, 1000)
    return range(0, 3), bbc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="sst2,ekman,bbc")
    ap.add_argument("--methods", default="setfit,probe")
    args = ap.parse_args()
    from textune import TextClassifier

    if not (DATA / "sst2_dev.tsv").exists():
        print(f"skipped: {DATA} not found (the shared datasets live beside the checkout)")
        return
    summary = []
    for name in args.datasets.split(","):
        seeds, split = splits(name)
        rows = []
        for seed in seeds:
            train, test = split(seed)
            for method in args.methods.split(","):
                for anchors in (False, "auto"):
                    clf = TextClassifier(method=method, seed=seed,
                                         label_anchors=anchors).fit(train)
                    rows.append({"dataset": name, "seed": seed, "method": method,
                                 "anchors": anchors, "accuracy": clf.evaluate(test)["accuracy"],
                                 "train_seconds": round(clf.train_seconds_, 2),
                                 "added": clf.fit_stats_["label_anchors"]})
                    print(json.dumps(rows[-1]), flush=True)
        for method in args.methods.split(","):
            acc = {a: [r["accuracy"] for r in rows if r["method"] == method
                       and r["anchors"] == a] for a in (False, "auto")}
            secs = {a: statistics.mean(r["train_seconds"] for r in rows
                                       if r["method"] == method and r["anchors"] == a)
                    for a in (False, "auto")}
            summary.append({"dataset": name, "method": method,
                            "off": round(statistics.mean(acc[False]), 4),
                            "on": round(statistics.mean(acc["auto"]), 4),
                            "better_seeds": sum(b > a for a, b in zip(acc[False], acc["auto"])),
                            "worse_seeds": sum(b < a for a, b in zip(acc[False], acc["auto"])),
                            "seeds": len(acc[False]),
                            "train_s_off": round(secs[False], 1),
                            "train_s_on": round(secs["auto"], 1)})
            print(json.dumps(summary[-1]), flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
