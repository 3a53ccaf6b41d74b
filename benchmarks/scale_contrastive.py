"""Contrastive (setfit) training on 100,000 distinct texts: peak memory stays O(batch), not O(n^2).

Texts: SST-2 train with duplicates removed (~67k), topped up to --n with synthetic texts that
join two random same-label phrases ("A ; B"), so every text is distinct and labels stay
meaningful. Reports peak RSS of the whole process (ru_maxrss), training time and accuracy on
SST-2 test.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale_contrastive.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def build_pool(n: int, seed: int = 0):
    from textune import Examples, load_examples

    base, dropped, _ = load_examples(DATA / "sst2_train.tsv").deduplicated()
    texts, labels = list(base.texts), list(base.labels)
    seen = set(texts)
    by_label: dict = {}
    for t, y in zip(base.texts, base.labels):
        by_label.setdefault(y, []).append(t)
    rng = random.Random(seed)
    while len(texts) < n:
        y = rng.choice(list(by_label))
        t = f"{rng.choice(by_label[y])} ; {rng.choice(by_label[y])}"
        if t not in seen:
            seen.add(t)
            texts.append(t)
            labels.append(y)
    return Examples(texts=texts[:n], labels=labels[:n], source="sst2+synthetic"), len(base)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--steps", type=int, default=None, help="default: textune's own (capped)")
    args = p.parse_args(argv)
    if not (DATA / "sst2_train.tsv").exists():
        print(f"skipped: {DATA} not found")
        return 0
    from textune import TextClassifier, load_examples

    pool, n_real = build_pool(args.n)
    rss_data = peak_rss_gib()
    clf = TextClassifier(method="setfit", steps=args.steps, show_progress=sys.stderr.isatty())
    t0 = time.perf_counter()
    clf.fit(pool)
    wall = time.perf_counter() - t0
    rss_train = peak_rss_gib()
    acc = clf.evaluate(load_examples(DATA / "sst2_test.tsv"))["accuracy"]
    import torch

    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "n_texts": len(pool), "sst2_distinct": n_real, "synthetic": len(pool) - n_real,
        "contrastive_steps": clf.fit_stats_["contrastive_steps"],
        "batch_size": clf.fit_stats_["batch_size"],
        "contrastive_seconds": round(clf.fit_stats_["contrastive_seconds"], 1),
        "fit_seconds_incl_load": round(wall, 1),
        "peak_rss_gib_after_data": round(rss_data, 2),
        "peak_rss_gib_after_training": round(rss_train, 2),
        "peak_rss_gib_final": round(peak_rss_gib(), 2),
        "sst2_test_accuracy": round(acc, 4),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
