import json
import logging

import pandas as pd
import pytest

from textune import DataError, Examples, from_lists, load_examples
from textune.data import read_table

from .conftest import shared_file


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ---- formats --------------------------------------------------------------------------------

def test_csv_with_quoted_commas(tmp_path):
    f = write(tmp_path / "d.csv", 'text,label\n"good, really good",pos\nbad film,neg\n')
    ex = load_examples(f)
    assert ex.texts == ["good, really good", "bad film"]
    assert ex.labels == ["pos", "neg"]
    assert ex.classes == ["neg", "pos"]


def test_tsv_keeps_stray_quotes_and_rows(tmp_path):
    f = write(tmp_path / "d.tsv", 'label\tsentence\n1\tthe "best" film\n0\t"unclosed quote\n'
                                  '1\tanother "one\n')
    ex = load_examples(f)
    assert len(ex) == 3
    assert ex.texts[1] == '"unclosed quote'
    assert ex.labels == ["1", "0", "1"]  # labels keep the file's spelling


def test_semicolon_csv_is_sniffed(tmp_path):
    f = write(tmp_path / "d.csv", "review;class\nnice;a\nawful;b\n")
    ex = load_examples(f)
    assert ex.texts == ["nice", "awful"] and ex.labels == ["a", "b"]


def test_bom_and_crlf(tmp_path):
    f = tmp_path / "d.csv"
    f.write_bytes("\ufefftext,label\r\ncafé,x\r\nthé,y\r\n".encode("utf-8"))
    ex = load_examples(f)
    assert ex.columns["text"] == "text"  # the BOM is not glued to the first column name
    assert ex.texts == ["café", "thé"]


def test_latin1_fallback_warns(tmp_path, caplog):
    f = write(tmp_path / "d.csv", "text,label\ncafé crème,x\nnaïve,y\n", encoding="latin-1")
    with caplog.at_level(logging.WARNING):
        ex = load_examples(f)
    assert ex.texts == ["café crème", "naïve"]
    assert "latin-1" in caplog.text and "d.csv" in caplog.text


def test_jsonl_parquet_dataframe_dataset_lists(tmp_path):
    rows = [{"text": "good", "label": 1}, {"text": "bad", "label": 0}]
    jl = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    pq = tmp_path / "d.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    import datasets

    sources = [jl, pq, pd.DataFrame(rows), datasets.Dataset.from_list(rows)]
    for src in sources:
        ex = load_examples(src)
        assert ex.texts == ["good", "bad"] and ex.labels == [1, 0], src
    ex = from_lists(["good", "bad"], [1, 0])
    assert ex.texts == ["good", "bad"] and ex.labels == [1, 0]
    pairs = from_lists([("a", "b"), ("c", "d")], ["x", "y"])
    assert pairs.is_pair and pairs.text_pairs == ["b", "d"]


def test_pair_columns_autodetected(tmp_path):
    f = write(tmp_path / "p.csv", "label,sentence1,sentence2\n1,a cat,a feline\n0,a dog,a car\n")
    ex = load_examples(f)
    assert ex.is_pair and ex.text_pairs == ["a feline", "a car"]


def test_columns_guessed_from_content(tmp_path):
    f = write(tmp_path / "d.csv", "id,words,tag\n1,lovely day,good\n2,awful day,bad\n")
    ex = load_examples(f, label_column="tag")
    assert ex.texts == ["lovely day", "awful day"]


# ---- the MRPC trap -------------------------------------------------------------------------

def test_mrpc_loads_every_pair():
    train = load_examples(shared_file("mrpc_train.tsv"))
    test = load_examples(shared_file("mrpc_test.tsv"))
    assert train.is_pair and train.columns == {"text": "#1 String", "label": "Quality",
                                               "pair": "#2 String"}
    assert (len(train), sum(y == 1 for y in train.labels)) == (4080, 2755)
    assert (len(test), sum(y == 1 for y in test.labels)) == (1725, 1147)
    # The classic trap: a CSV reader with quoting on merges rows at stray quotes.
    quoted = pd.read_csv(shared_file("mrpc_train.tsv"), sep="\t", on_bad_lines="skip")
    assert len(quoted) < 4080


# ---- errors name the source, the row/column and the fix ------------------------------------

def test_missing_named_column(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\na,x\nb,y\n")
    with pytest.raises(DataError) as e:
        load_examples(f, text_column="txt")
    msg = str(e.value)
    assert "d.csv" in msg and "'txt'" in msg and "Did you mean 'text'" in msg
    assert "--text-column" in msg


def test_undetectable_label_column(tmp_path):
    f = write(tmp_path / "d.csv", "text,foo\nhello,1\nbye,2\n")
    with pytest.raises(DataError, match=r"d.csv.*labels.*--label-column"):
        load_examples(f)


def test_empty_text_names_rows(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\ngood,x\n   ,y\nok,x\n,y\n")
    with pytest.raises(DataError) as e:
        load_examples(f)
    msg = str(e.value)
    assert "d.csv" in msg and "'text'" in msg
    assert "row 2 (line 3)" in msg and "row 4 (line 5)" in msg
    assert "remove" in msg.lower()


def test_non_string_text(tmp_path):
    f = write(tmp_path / "d.jsonl", '{"text": "fine", "label": 1}\n{"text": 42, "label": 0}\n')
    with pytest.raises(DataError, match=r"d.jsonl.*'text'.*row 2 \(line 2\).*42.*int"):
        load_examples(f)


def test_missing_label(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\ngood,x\nbad,\n")
    with pytest.raises(DataError, match=r"d.csv.*label column 'label'.*row 2 \(line 3\)"):
        load_examples(f)


def test_single_class(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\ngood,x\nfine,x\n")
    ex = load_examples(f)
    with pytest.raises(DataError, match=r"d.csv.*only one class \('x'\).*at least two"):
        ex.require_labels()


def test_unseen_eval_labels():
    ex = from_lists(["a", "b", "c"], ["x", "z", "x"], source="eval.csv")
    with pytest.raises(DataError) as e:
        ex.check_known_labels(["x", "y"])
    msg = str(e.value)
    assert "eval.csv" in msg and "'z'" in msg and "row 2" in msg and "['x', 'y']" in msg


def test_ragged_tsv(tmp_path):
    f = write(tmp_path / "d.tsv", "label\ttext\n1\tok\n0\tbad\textra\n")
    with pytest.raises(DataError, match=r"d.tsv.*TSV.*tabs"):
        load_examples(f)


def test_bad_json_line(tmp_path):
    f = write(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"d.jsonl: line 2 is not valid JSON"):
        load_examples(f)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_examples(tmp_path / "nope.csv")


def test_mismatched_lengths():
    with pytest.raises(DataError, match="3 texts but 2 labels"):
        Examples(texts=["a", "b", "c"], labels=[1, 2])


def test_duplicates_counted_and_conflicts_reported():
    ex = from_lists(["a", "b", "a", "a", "c"], [1, 0, 1, 0, 1])
    dedup, dropped, conflicts = ex.deduplicated()
    assert dedup.texts == ["a", "b", "c"] and dedup.labels == [1, 0, 1]
    assert (dropped, conflicts) == (2, 1)


def test_read_table_returns_header_offset(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\na,1\n")
    df, first = read_table(f)
    assert first == 2 and list(df.columns) == ["text", "label"]


def test_duplicates_reported_on_load(tmp_path, caplog):
    f = write(tmp_path / "d.csv", "text,label\nsame,x\nother,y\nsame,x\n")
    with caplog.at_level(logging.INFO, logger="textune"):
        ex = load_examples(f)
    assert len(ex) == 3  # nothing dropped silently
    assert "d.csv: 1 of 3 rows repeat an earlier text" in caplog.text
