"""Long documents: `--long-text chunk` (windows, embeddings averaged) vs `truncate` on BBC News.

BBC articles run to ~400 MiniLM tokens on median, past the 256-token limit, so truncation
drops their ends. Per seed: N articles per topic to train (`sample_per_class`), a fixed
held-out set of M per topic to test; setfit and probe with their defaults, each in both
modes. Training time is `train_seconds_` (backbone loading excluded); prediction time is
`predict_proba` over the test set.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_text.py --shots 8 --seeds 2 --test 60

Prints a markdown table for docs/benchmarks.md and writes JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--test", type=int, default=60, help="held-out articles per topic")
    ap.add_argument("--methods", default="probe,setfit")
    args = ap.parse_args()

    import numpy as np

    from textune import TextClassifier, sample_per_class
    from textune.demo import bbc_news
    from textune.models.backbones import resolve_backbone
    from transformers import AutoTokenizer

    data = bbc_news()
    test = sample_per_class(data, args.test, seed=1000)
    held = set(test.texts)
    pool = data.subset([i for i, t in enumerate(data.texts) if t not in held])
    tok = AutoTokenizer.from_pretrained(resolve_backbone("minilm"))
    lengths = np.array([len(ids) for ids in tok(test.texts)["input_ids"]])
    rows = []
    for method in args.methods.split(","):
        for mode in ("truncate", "chunk"):
            for seed in range(args.seeds):
                train = sample_per_class(pool, args.shots, seed)
                clf = TextClassifier(method=method, long_text=mode, seed=seed).fit(train)
                t0 = time.perf_counter()
                proba = clf.predict_proba(test)
                predict_s = time.perf_counter() - t0
                acc = float((clf.classes_[proba.argmax(1)] == np.array(test.labels)).mean())
                rows.append({"method": method, "long_text": mode, "seed": seed,
                             "accuracy": acc, "train_seconds": clf.train_seconds_,
                             "predict_seconds": predict_s})
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for r in rows:
        summary.setdefault((r["method"], r["long_text"]), []).append(r)
    print(f"\nBBC News, {args.shots} per topic to train, {len(test)} held-out articles "
          f"(median {int(np.median(lengths))} tokens, {np.mean(lengths > 256):.0%} over 256), "
          f"{args.seeds} seeds\n")
    print("| method | long text | accuracy (mean) | per seed | train s | predict s |")
    print("|---|---|---|---|---|---|")
    for (method, mode), rs in summary.items():
        print(f"| {method} | {mode} | {statistics.mean(r['accuracy'] for r in rs):.3f} | "
              f"{' / '.join(format(r['accuracy'], '.3f') for r in rs)} | "
              f"{statistics.median(r['train_seconds'] for r in rs):.1f} | "
              f"{statistics.median(r['predict_seconds'] for r in rs):.1f} |")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (out / f"long_text_{stamp}.json").write_text(json.dumps(
        {"args": vars(args), "rows": rows, "machine": platform.processor() or platform.machine(),
         "cores": len(os.sched_getaffinity(0))}, indent=2))


if __name__ == "__main__":
    main()
