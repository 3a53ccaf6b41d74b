"""How to pool a long text's window embeddings: mean (textune's), max, or the first window.

Issue 13 asks to measure max and attention-weighted pooling beside the mean. Per seed: one
setfit model trained with `long_text="chunk"` on N BBC articles per topic; then every
training and held-out article is cut into the same windows (256 tokens, 64 shared) and
each window embedded once. Each pooling turns a text's window embeddings into one vector,
a logistic-regression head (textune's, C=1) is fitted on the pooled training vectors and
scored on the pooled held-out ones. The body is the same for every pooling: only the
pooling differs.

- mean: the average of the windows (what textune does).
- max: the elementwise maximum, L2-normalised.
- first: the first window only (what truncation reads, with the same body).
- attention: windows weighted by a softmax over their cosine to the text's mean window,
  temperature 0.05: windows typical of the text count more, digressions less (no trained
  parameters: there are too few texts to learn attention weights from).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/long_text_pooling.py --shots 8 --seeds 3 --test 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from datetime import datetime, timezone

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pooled(rows, owner, n, how: str):
    import numpy as np

    out = np.zeros((n, rows.shape[1]), dtype=np.float32)
    for i in range(n):
        w = rows[owner == i]
        if how == "mean":
            out[i] = w.mean(0)
        elif how == "max":
            v = w.max(0)
            out[i] = v / np.linalg.norm(v)
        elif how == "first":
            out[i] = w[0]
        elif how == "attention":
            m = w.mean(0)
            cos = w @ m / (np.linalg.norm(w, axis=1) * np.linalg.norm(m) + 1e-12)
            a = np.exp((cos - cos.max()) / 0.05)
            out[i] = (a[:, None] * w).sum(0) / a.sum()
    return out


def windows_of(encoder, texts):
    """Every window's embedding and the text it belongs to (chunk mode)."""
    import numpy as np

    import textune.models.encoder as enc_mod

    seen = {}
    real = enc_mod.mean_by_owner

    def keep(rows, owner, n):
        seen["rows"], seen["owner"] = rows, owner
        return real(rows, owner, n)

    enc_mod.mean_by_owner = keep
    try:
        encoder.embed(list(texts))
    finally:
        enc_mod.mean_by_owner = real
    return seen["rows"], np.asarray(seen["owner"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--test", type=int, default=40, help="held-out articles per topic")
    args = ap.parse_args()

    import numpy as np

    from textune import TextClassifier, sample_per_class
    from textune.demo import bbc_news
    from textune.models.heads import LogisticHead

    data = bbc_news()
    test = sample_per_class(data, args.test, seed=1000)
    held = set(test.texts)
    pool = data.subset([i for i, t in enumerate(data.texts) if t not in held])
    ways = ("mean", "max", "first", "attention")
    scores = {w: [] for w in ways}
    for seed in range(args.seeds):
        train = sample_per_class(pool, args.shots, seed)
        clf = TextClassifier(method="setfit", long_text="chunk", seed=seed).fit(train)
        encoder = clf.model_.encoder
        names = list(clf.classes_)
        y_train = np.array([names.index(v) for v in train.labels])
        y_test = np.array([names.index(v) for v in test.labels])
        tr_rows, tr_owner = windows_of(encoder, train.texts)
        te_rows, te_owner = windows_of(encoder, test.texts)
        for how in ways:
            head = LogisticHead().fit(pooled(tr_rows, tr_owner, len(train), how), y_train, seed)
            pred = head.predict_proba(pooled(te_rows, te_owner, len(test), how)).argmax(1)
            acc = float((pred == y_test).mean())
            scores[how].append(acc)
            print(json.dumps({"seed": seed, "pooling": how, "accuracy": round(acc, 4),
                              "test_windows": len(te_rows)}), flush=True)
    print(f"\ndate {datetime.now(timezone.utc).isoformat(timespec='seconds')}; machine: "
          f"{platform.machine()}, {os.cpu_count()} cores; BBC {args.shots} per topic, "
          f"{len(test)} held-out articles, seeds 0-{args.seeds - 1}\n")
    print("| pooling | mean accuracy | per seed |\n|---|---|---|")
    for how in ways:
        print(f"| {how} | {statistics.mean(scores[how]):.3f} | "
              f"{' '.join(f'{s:.3f}' for s in scores[how])} |")


if __name__ == "__main__":
    main()
