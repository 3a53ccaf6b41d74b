"""Hugging Face clients against `textune serve`, unchanged: the real `huggingface_hub`
InferenceClient (text classification) and Text Embeddings Inference-shaped `/predict`
requests, over real loopback HTTP, on a 3-topic model and a multi-label one."""

import numpy as np
import pytest

from tests.serve.helpers import KEY, LIMITS, serving
from textune.serving.batch import load_predictor
from textune.serving.http import create_app

httpx = pytest.importorskip("httpx")
hub = pytest.importorskip("huggingface_hub")


@pytest.fixture(autouse=True)
def client_online(monkeypatch):
    """The tests run offline (HF_HUB_OFFLINE=1), which makes huggingface_hub refuse every
    request, loopback included; a user's client talks to their server normally."""
    monkeypatch.setattr(hub.constants, "is_offline_mode", lambda: False)


@pytest.fixture(scope="module")
def topic_server(topics):
    predictor, texts = topics
    with serving(create_app(predictor, api_key=KEY, limits=LIMITS)) as url:
        yield url, predictor, texts


def _ranked(row, labels):
    return sorted(zip(labels, row), key=lambda x: -x[1])


def test_inference_client_text_classification(topic_server):
    url, predictor, texts = topic_server
    client = hub.InferenceClient(model=url, token=KEY)
    want = predictor.predict_proba(texts[:3], None)
    for text, row in zip(texts[:3], want):
        out = client.text_classification(text)
        expected = _ranked(row, [str(c) for c in predictor.labels])
        assert [o.label for o in out] == [label for label, _ in expected]  # best first
        np.testing.assert_allclose([o.score for o in out], [p for _, p in expected], atol=1e-5)
    top = client.text_classification(texts[0], top_k=2, function_to_apply="softmax")
    assert [o.label for o in top] == [o.label for o in client.text_classification(texts[0])][:2]
    with pytest.raises(hub.errors.HfHubHTTPError) as e:
        client.text_classification(texts[0], function_to_apply="sigmoid")
    assert e.value.response.status_code == 422
    assert "softmax" in e.value.response.json()["error"]["message"]
    with pytest.raises(hub.errors.HfHubHTTPError) as e:  # the key guards this route too
        hub.InferenceClient(model=url).text_classification(texts[0])
    assert e.value.response.status_code == 401


def test_tei_predict_shapes(topic_server):
    url, predictor, texts = topic_server
    labels = [str(c) for c in predictor.labels]
    want = predictor.predict_proba(texts[:2], None)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        one = c.post("/predict", json={"inputs": texts[0]}).json()
        assert [(p["label"], round(p["score"], 5)) for p in one] == \
            [(label, round(float(p), 5)) for label, p in _ranked(want[0], labels)]
        batch = c.post("/predict", json={"inputs": [[texts[0]], [texts[1]]]}).json()
        assert len(batch) == 2 and [p["label"] for p in batch[0]] == [p["label"] for p in one]
        np.testing.assert_allclose([p["score"] for p in batch[0]], [p["score"] for p in one],
                                   atol=1e-5)
        assert batch[1][0]["label"] == _ranked(want[1], labels)[0][0]
        for body, status, code in [
                ({"inputs": [texts[0], "a second text"]}, 422, "wrong_input_kind"),  # a pair
                ({"inputs": []}, 422, "invalid_request"),
                ({"inputs": [["a"], ["b", "c"]]}, 422, "wrong_input_kind"),
                ({"inputs": "  "}, 422, "empty_text"),
                ({"inputs": [["fine"], ["\u200b \ufeff"]]}, 422, "empty_text"),
                ({"inputs": texts[0], "raw_scores": True}, 422, "raw_scores_unsupported"),
                ({"texts": [texts[0]]}, 422, "invalid_request")]:
            r = c.post("/predict", json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
        assert c.post("/", json={"inputs": ["x"] * 9}).json()["error"]["code"] == \
            "too_many_texts"  # the same limits as /v1/classify


def test_label_sets_score_every_label_independently(tmp_path):
    """A multi-label model: each label's sigmoid probability, best first; 'sigmoid' is
    its function."""
    from textune import TextClassifier

    texts = ["rain and wind", "sunny and warm", "stocks fell", "shares rose on rain news",
             "a warm market day", "wind hits the port", "sunny stocks", "cold rain"]
    sets = [["weather"], ["weather"], ["markets"], ["markets", "weather"], ["markets"],
            ["weather", "ports"], ["markets", "weather"], ["weather"]]
    TextClassifier(method="probe").fit(texts, sets).save(tmp_path / "m")
    predictor = load_predictor(tmp_path / "m")
    want = predictor.predict_proba(texts[:1], None)[0]
    with serving(create_app(predictor)) as url:
        out = hub.InferenceClient(model=url).text_classification(
            texts[0], function_to_apply="sigmoid")
        assert {o.label: o.score for o in out} == pytest.approx(
            dict(zip(["markets", "ports", "weather"], want.tolist())), abs=1e-5)
        assert not np.isclose(sum(o.score for o in out), 1.0)
        tei = httpx.post(f"{url}/predict", json={"inputs": texts[0]}).json()
        assert [p["label"] for p in tei] == [o.label for o in out]
