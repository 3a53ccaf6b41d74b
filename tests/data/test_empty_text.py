"""Empty-looking text is empty: a text of nothing but whitespace and invisible format
characters (Unicode Cf: U+200B, U+2060, U+FEFF, ...) is refused like an empty one on every
path, while a real text that contains such characters is accepted and kept as written."""

import re
import sys
import unicodedata

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from textune.cli import app
from textune.data import DataError, from_lists, is_empty_text, load_examples
from textune.serving.batch import predict_frame, stream_predict
from textune.serving.torch_runtime import TorchPredictor

runner = CliRunner()
ZERO_WIDTH = "\u200b\u2060\ufeff"  # zero-width space, word joiner, byte order mark
# every whitespace and every format (Cf) character this Python knows
INVISIBLE = sorted(chr(c) for c in range(sys.maxunicode + 1)
                   if chr(c).isspace() or unicodedata.category(chr(c)) == "Cf")
invisible_texts = st.text(st.sampled_from(INVISIBLE), max_size=12)
# a real text: a letter somewhere among anything else (invisible characters included)
real_texts = st.builds(lambda a, letter, b: a + letter + b,
                       st.text(st.sampled_from(INVISIBLE) | st.characters(codec="utf-8"),
                               max_size=6),
                       st.characters(categories=["Lu", "Ll", "Lo"]),
                       st.text(st.sampled_from(INVISIBLE) | st.characters(codec="utf-8"),
                               max_size=6))
TOPICS = {"weather": ["rain and wind tonight", "sunny and warm all week", "snow in the hills"],
          "cooking": ["fry the garlic gently", "bake the bread for an hour", "whisk the eggs"],
          "football": ["the striker scored twice", "a red card for the keeper", "a late goal"]}
TEXTS = [t for rows in zip(*TOPICS.values()) for t in rows]
LABELS = [y for _ in range(3) for y in TOPICS]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=invisible_texts)
def test_whitespace_and_format_characters_alone_are_refused(text):
    assert is_empty_text(text)
    with pytest.raises(DataError, match=r"column 'text' is empty in row 2"):
        from_lists(["a fine text", text, "another"], ["x", "y", "z"])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(text=real_texts)
def test_any_text_with_a_letter_is_accepted_as_written(text):
    assert not is_empty_text(text)
    assert from_lists([text, "other"], ["x", "y"]).texts == [text, "other"]  # nothing stripped


@pytest.fixture(scope="module")
def tiny_topics(tiny_backbone, tmp_path_factory):
    from textune import TextClassifier

    clf = TextClassifier(method="probe", model=tiny_backbone).fit(TEXTS, LABELS)
    path = tmp_path_factory.mktemp("models") / "topics"
    clf.save(path)
    return clf, path


def test_python_api_fit_predict_refuse_zero_width_texts(tiny_topics, tiny_backbone):
    from textune import TextClassifier

    clf, _ = tiny_topics
    with pytest.raises(DataError, match=r"training data.*column 'text' is empty in row 4"):
        TextClassifier(method="probe", model=tiny_backbone).fit(
            TEXTS[:3] + [ZERO_WIDTH] + TEXTS[4:], LABELS)
    for call in (clf.predict, clf.predict_proba):
        with pytest.raises(DataError, match=r"column 'text' is empty in row 2"):
            call(["rain and wind tonight", " \u200b\u2060 "])
    # a BOM or zero-width character inside a real text changes nothing about accepting it
    assert clf.predict_proba(["\ufeffrain and wind\u200b tonight"]).shape == (1, 3)


def test_files_cli_stream_and_batches_refuse_zero_width_texts(tiny_topics, tmp_path):
    clf, model = tiny_topics
    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS))
                    + f"{ZERO_WIDTH},weather\n", encoding="utf-8")
    where = "row 10 (line 11)"
    with pytest.raises(DataError, match=re.escape(f"column 'text' is empty in {where}")):
        load_examples(data)
    for args in (["train", "--method", "probe", "--data", str(data), "--output",
                  str(tmp_path / "m")],
                 ["evaluate", str(model), "--data", str(data)],
                 ["predict", str(model), "--data", str(data), "--output",
                  str(tmp_path / "p.jsonl"), "--chunk-size", "4"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and where in r.output and "empty" in r.output, r.output
    assert not (tmp_path / "p.jsonl").exists()
    predictor = TorchPredictor(clf)
    with pytest.raises(DataError, match=r"empty in row 10 \(line 11\)"):  # the streaming reader
        stream_predict(data, tmp_path / "s.jsonl", predictor, chunk_size=3)
    frame = pd.DataFrame({"text": TEXTS[:2] + ["\u2060 \u200b"]}, index=[7, 8, 9])
    with pytest.raises(DataError, match=r"column 'text' holds no text in row 3 \(index 9"):
        predict_frame(frame, predictor)
    with pytest.raises(DataError, match=r"texts\[1\] is empty"):  # the runtime itself
        predictor.predict_proba(["rain", "\ufeff"])
    out = predict_frame(pd.DataFrame({"text": ["\ufeffsnow in the hills"]}), predictor)
    assert out["label"].tolist() == clf.predict(["\ufeffsnow in the hills"]).tolist()
