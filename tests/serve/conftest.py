"""Fixtures of the serving tests."""

import pytest

from tests.serve.helpers import TOPICS
from textune.serving.batch import load_predictor


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    """A 3-topic probe model, saved and loaded back as the service loads it."""
    from textune import TextClassifier

    texts = [t for rows in zip(*TOPICS.values()) for t in rows]
    labels = [y for _ in range(6) for y in TOPICS]
    path = tmp_path_factory.mktemp("models") / "topics"
    TextClassifier(method="probe").fit(texts, labels).save(path)
    return load_predictor(path), texts
