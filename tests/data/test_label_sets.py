"""Label sets (multi-label data) read as users write them: separated cells, JSON lists,
headerless files with label ids and a names file; and bad ones fail naming the file, the row
and the fix."""

import json

import numpy as np
import pytest

from tests.conftest import shared_file
from textune import DataError, load_examples, sample_per_class

NAMES = ["joy", "anger", "fear", "surprise", "sadness"]  # not sorted: the file's order rules


@pytest.fixture
def names_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("\n".join(NAMES) + "\n\n")  # trailing blank lines are an editor's
    return path


def _tsv(tmp_path, rows, name="data.tsv"):
    path = tmp_path / name
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_headerless_ids_become_names_in_the_names_file_order(tmp_path, names_file):
    path = _tsv(tmp_path, [("so happy", "0", "a1"), ("angry and scared", "2,1", "a2"),
                           ("what a shock, so sad", "3,4,0", "a3"), ("meh", "", "a4")])
    ex = load_examples(path, header=False, text_column="0", label_column="1",
                       label_names=names_file, multi_label=True, allow_empty_labels=True)
    assert ex.multi_label and ex.classes == NAMES and len(ex) == 4  # line 1 is data
    assert ex.labels == [("joy",), ("anger", "fear"), ("joy", "surprise", "sadness"), ()]
    np.testing.assert_array_equal(ex.indicator()[2], [1, 0, 0, 1, 1])


def test_columns_named_by_position_detect_a_headerless_file(tmp_path, names_file):
    """`--text-column 0 --label-column 1` on a file whose first line names no such column:
    that line is data, read as with header=False (no row lost); a file whose header does
    name its columns "0" and "1" keeps its header."""
    rows = [("so happy", "0", "a1"), ("angry and scared", "2,1", "a2"),
            ("what a shock, so sad", "3,4,0", "a3")]
    path = _tsv(tmp_path, rows)
    flags = dict(text_column="0", label_column="1", label_names=names_file, multi_label=True)
    detected = load_examples(path, **flags)
    assert detected.texts == [r[0] for r in rows]
    assert detected.labels == load_examples(path, header=False, **flags).labels
    named = _tsv(tmp_path, [("0", "1", "id"), *rows], "named.tsv")
    assert load_examples(named, **flags).texts == [r[0] for r in rows]
    usual = tmp_path / "usual.csv"  # a header of usual names stays a header: clear error
    usual.write_text("text,label\nso happy,0\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column '1' for the label; columns are \['text'"):
        load_examples(usual, text_column="0", label_column="1")
    csv_file = tmp_path / "data.csv"  # the separator is sniffed; quotes are CSV quoting
    csv_file.write_text('"so happy, really",0\n"angry",1\n', encoding="utf-8")
    assert load_examples(csv_file, text_column="0", label_column="1").texts == \
        ["so happy, really", "angry"]


def test_bad_label_sets_name_the_row_and_the_fix(tmp_path, names_file):
    flags = dict(header=False, text_column="0", label_column="1", multi_label=True)
    path = _tsv(tmp_path, [("a", "0"), ("b", "1,7")])
    with pytest.raises(DataError, match=r"label id\(s\) \[7\] in row 2 \(line 2\).*ids 0-4"):
        load_examples(path, label_names=names_file, **flags)
    commas = tmp_path / "commas.txt"
    commas.write_text("happy, very\nsad\n")
    with pytest.raises(DataError, match="contain the separator ','.*--label-separator"):
        load_examples(path, label_names=commas, **flags)
    empty = _tsv(tmp_path, [("a", "0"), ("b", "")], "empty.tsv")
    with pytest.raises(DataError, match="empty in row 2.*--allow-empty-labels"):
        load_examples(empty, label_names=names_file, **flags).require_labels()
    unused = _tsv(tmp_path, [("a", "0"), ("b", "1"), ("c", "0,1")], "unused.tsv")
    with pytest.raises(DataError, match="'fear', 'surprise', 'sadness' have no examples"):
        load_examples(unused, label_names=names_file, **flags).require_labels()
    gap = _tsv(tmp_path, [("a", "0,,1")], "gap.tsv")
    with pytest.raises(DataError, match="empty label between separators.*row 1"):
        load_examples(gap, **flags)


def test_json_lists_are_label_sets_without_a_flag(tmp_path):
    path = tmp_path / "tags.jsonl"
    rows = [{"text": "rain in the port", "tags": ["weather", "ports"]},
            {"text": "stocks rose", "tags": ["markets"]},
            {"text": "calm day", "tags": []}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ex = load_examples(path, label_column="tags", allow_empty_labels=True)
    assert ex.multi_label and ex.classes == ["markets", "ports", "weather"]
    assert ex.labels == [("weather", "ports"), ("markets",), ()]


def test_digit_string_labels_keep_their_spelling_in_sets(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\na,"007|10"\nb,7\nc,"2|007"\n')
    ex = load_examples(path, multi_label=True, label_separator="|")
    assert ex.classes == ["007", "10", "2", "7"] and ex.labels[0] == ("007", "10")


def test_goemotions_shots_take_n_rows_for_every_label_deterministically():
    path = shared_file("goemotions/original_train.tsv")
    flags = dict(header=False, text_column="0", label_column="1", multi_label=True,
                 label_names=shared_file("goemotions/original_labels.txt"))
    ex = load_examples(path, **flags)
    assert len(ex) == sum(1 for _ in open(path, encoding="utf-8")) and len(ex.classes) == 28
    a, b = sample_per_class(ex, 8, seed=3), sample_per_class(ex, 8, seed=3)
    assert a.texts == b.texts and a.texts != sample_per_class(ex, 8, seed=4).texts
    assert (a.indicator().sum(axis=0) >= 8).all()


def test_one_indicator_column_per_label(tmp_path):
    path = tmp_path / "toxic.csv"
    path.write_text("comment,toxic,insult,threat\nyou fool,1,1,0\nnice work,0,0,0\n"
                    "or else,true,false,TRUE\n")
    ex = load_examples(path, label_columns=["threat", "toxic", "insult"],
                       allow_empty_labels=True)
    assert ex.multi_label and ex.classes == ["threat", "toxic", "insult"]  # as given
    assert ex.texts == ["you fool", "nice work", "or else"]  # the 0/1 columns are not text
    assert ex.labels == [("toxic", "insult"), (), ("threat", "toxic")]
    bad = tmp_path / "bad.csv"
    bad.write_text("comment,toxic,insult\nyou fool,1,maybe\nok,0,0\n")
    with pytest.raises(DataError, match="'insult' must hold 0 or 1.*row 1.*'maybe'"):
        load_examples(bad, label_columns=["toxic", "insult"])
