"""All five BBC News topics, with the label kinds that once broke (tests/labels.py), through
every path a user predicts by: in memory, reloaded, `textune predict`, `predict_frame`, HTTP
and ONNX (tests/paths.py). A probe keeps it fast; the method matrix is test_roundtrip.py."""

from collections import Counter

import pytest

from tests.labels import labels_of, relabel
from tests.paths import assert_same_answer_everywhere
from textune import TextClassifier


@pytest.fixture(scope="module")
def five_topics(bbc_news5):
    """bbc_news5's training set and 3 held-out articles per topic (in their shuffled order)."""
    train, test = bbc_news5
    keep, seen = [], Counter()
    for i, y in enumerate(test.labels):
        seen[y] += 1
        if seen[y] <= 3:
            keep.append(i)
    return train, test.subset(keep)


@pytest.mark.parametrize("kind", ["digits", "ints"])
def test_five_topics_give_the_same_answer_everywhere(five_topics, tmp_path, kind):
    train, test = (relabel(part, kind) for part in five_topics)
    assert train.labels[:5] == labels_of(kind)  # first seen: not sorted, as text or as numbers
    assert sorted(Counter(test.labels).values()) == [3] * 5
    clf = TextClassifier(method="probe", max_length=64, seed=0).fit(train)
    assert clf.labels == sorted(labels_of(kind))  # digits stay text: "007" < "1" < "10" < "2"
    assert_same_answer_everywhere(clf, test, tmp_path)
