"""Few-shot sampling and splitting: the subsets a user draws from their data."""

import logging

import pytest

from textune import DataError, from_lists, sample_per_class, split


def test_sample_per_class_is_seeded_and_stratified(caplog):
    texts = [f"t{i}" for i in range(30)]
    labels = ["a"] * 20 + ["b"] * 7 + ["c"] * 3
    ex = from_lists(texts, labels)
    with caplog.at_level(logging.WARNING):
        s1 = sample_per_class(ex, 5, seed=1)
    assert sorted(s1.labels).count("a") == 5 and s1.labels.count("c") == 3
    assert "fewer than 5" in caplog.text and "'c' (3)" in caplog.text
    assert sample_per_class(ex, 5, seed=1).texts == s1.texts
    assert sample_per_class(ex, 5, seed=2).texts != s1.texts


def test_sample_rejects_nonpositive_shots():
    with pytest.raises(DataError, match="positive"):
        sample_per_class(from_lists(["a", "b"], [0, 1]), 0)


def test_split_is_stratified():
    ex = from_lists([f"t{i}" for i in range(40)], [i % 2 for i in range(40)])
    a, b = split(ex, test_size=0.25, seed=0)
    assert len(a) == 30 and len(b) == 10
    assert b.labels.count(0) == b.labels.count(1) == 5
    assert not set(a.texts) & set(b.texts)
