import json
import logging

import pandas as pd
import pytest

from textune import DataError, Examples, from_lists, load_examples
from textune.data import read_table

from tests.conftest import shared_file


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
    assert (len(train), train.labels.count("1")) == (4080, 2755)
    assert (len(test), test.labels.count("1")) == (1725, 1147)
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
    assert ex.label_ids(["x", "y", "z"]).tolist() == [0, 2, 0]
    assert ex.label_ids(["x", "y"], unknown=-1).tolist() == [0, -1, 0]
    with pytest.raises(DataError) as e:
        ex.label_ids(["x", "y"])
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


def test_read_table_returns_line_of_each_row(tmp_path):
    f = write(tmp_path / "d.csv", 'text,label\na,1\n"two\nlines",2\nb,3\n')
    df, lines = read_table(f)
    assert list(df.columns) == ["text", "label"] and lines == [2, 3, 5]


def test_duplicates_reported_on_load(tmp_path, caplog):
    f = write(tmp_path / "d.csv", "text,label\nsame,x\nother,y\nsame,x\n")
    with caplog.at_level(logging.INFO, logger="textune"):
        ex = load_examples(f)
    assert len(ex) == 3  # nothing dropped silently
    assert "d.csv: 1 of 3 rows repeat an earlier text" in caplog.text


# ---- quoting is decided per file, from evidence --------------------------------------------

# A drug-review-style export: a TSV whose text fields are CSV-quoted and hold line breaks,
# tabs, doubled quotes and HTML entities. Conditions (the labels) in non-sorted first-seen order.
REVIEWS = [
    ("206461", "Valsartan", "Left Ventricular Dysfunction",
     '"It has no side effect, I take it in combination of Bystolic 5 Mg and Fish Oil"', "9"),
    ("95260", "Guanfacine", "ADHD",
     '"My son is halfway through his fourth week of Intuniv.\nWe became concerned when he '
     'began this last week, when he started taking the highest dose he will be on.\n\nFor two '
     'days, he could hardly get out of bed."', "8"),
    ("92703", "Lybrel", "Birth Control",
     '"I used to take another oral contraceptive, which had 21 pill cycle, and was very happy'
     '\t- very light periods, max 5 days, no other side effects. It contained &quot;drospirenone'
     '&quot; and I didn&#039;t like ""Lybrel"" at first."', "5"),
    ("138000", "Ortho Evra", "Birth Control",
     '"This is my first time using any form of birth control. I&#039;m glad I went with the '
     'patch, I have been on it for 8 months."', "8"),
    ("35696", "Buprenorphine / naloxone", "ADHD",
     '"Suboxone has completely turned my life around.\r\nI feel healthier, I\'m excelling at '
     'my job and I always have money in my pocket."', "9"),
]
REVIEW_TEXTS = [json.loads('"' + r[3][1:-1].replace('""', '\\"').replace("\n", "\\n")
                           .replace("\t", "\\t").replace("\r", "\\r") + '"') for r in REVIEWS]


def quoted_reviews_tsv(path):
    body = "\n".join("\t".join(row) for row in REVIEWS)
    return write(path, "uniqueID\tdrugName\tcondition\treview\trating\n" + body + "\n")


def test_quoted_multiline_tsv_loads_whole_with_no_flags(tmp_path, caplog):
    f = quoted_reviews_tsv(tmp_path / "drugs.tsv")
    with caplog.at_level(logging.INFO, logger="textune"):
        ex = load_examples(f, label_column="condition")
    assert ex.texts == REVIEW_TEXTS  # line breaks, tabs, "" and entities kept as written
    assert "\n\nFor two days" in ex.texts[1] and "\t- very light" in ex.texts[2]
    assert 'didn&#039;t like "Lybrel"' in ex.texts[2]
    assert ex.labels == [r[2] for r in REVIEWS]
    assert [ex.where(i) for i in range(5)] == ["row 1 (line 2)", "row 2 (line 3)",
                                               "row 3 (line 7)", "row 4 (line 8)",
                                               "row 5 (line 9)"]
    assert "--quoting csv" in caplog.text and "drugs.tsv" in caplog.text
    assert "HTML entities" in caplog.text and "--unescape-html" in caplog.text


def test_unescape_html_is_opt_in(tmp_path):
    f = quoted_reviews_tsv(tmp_path / "drugs.tsv")
    ex = load_examples(f, label_column="condition", unescape_html=True)
    assert "didn't like \"Lybrel\"" in ex.texts[2] and '"drospirenone"' in ex.texts[2]
    assert "I'm glad" in ex.texts[3]
    jl = write(tmp_path / "d.jsonl", json.dumps({"text": "Tom &amp; Jerry&#039;s", "label": "b"})
               + "\n" + json.dumps({"text": "plain", "label": "a"}) + "\n")
    assert load_examples(jl, unescape_html=True).texts == ["Tom & Jerry's", "plain"]
    assert load_examples(jl).texts == ["Tom &amp; Jerry&#039;s", "plain"]


def test_quoting_can_be_forced_and_errors_name_the_line(tmp_path):
    f = quoted_reviews_tsv(tmp_path / "drugs.tsv")
    with pytest.raises(DataError, match=r"drugs.tsv.*line 3 has 4 fields where the header has "
                                        r"5.*--quoting csv"):
        load_examples(f, label_column="condition", quoting="none")
    with pytest.raises(DataError, match=r"unknown quoting 'tsv'"):
        load_examples(f, quoting="tsv")
    mrpc = shared_file("mrpc_train.tsv")
    with pytest.raises(DataError, match=r"mrpc_train.tsv.*line \d+.*--quoting none"):
        load_examples(mrpc, quoting="csv")


def test_csv_whole_quoted_fields_are_unquoted(tmp_path):
    """A CSV whose quoted fields hold no separator is still CSV quoting: quotes go."""
    f = write(tmp_path / "d.csv", 'text,label\n"He said ""hi""",b\nplain,a\n"x",c\n')
    assert load_examples(f).texts == ['He said "hi"', "plain", "x"]
    assert load_examples(f, quoting="none").texts == ['"He said ""hi"""', "plain", '"x"']


def test_mrpc_streamed_reads_the_same_rows():
    from textune.data import read_chunks

    path = shared_file("mrpc_test.tsv")
    whole, lines = read_table(path)
    chunks = list(read_chunks(path, 500))
    streamed = pd.concat([c[0] for c in chunks], ignore_index=True)
    assert len(streamed) == 1725 and streamed.equals(whole)
    assert [n for c in chunks for n in c[1]] == lines == list(range(2, 1727))
    assert [c[2] for c in chunks] == [0, 500, 1000, 1500]


# ---- no row vanishes, none is padded -------------------------------------------------------

def test_jsonl_keeps_unicode_line_separators_inside_strings(tmp_path):
    from textune.data import read_chunks

    texts = ["one\u2028two", "para\u2029graph", "next\x85line", "vertical\x0btab\x0cfeed"]
    labels = ["b", "c", "a", "b"]
    body = "\n\n".join(json.dumps({"text": t, "label": y}, ensure_ascii=False)
                       for t, y in zip(texts, labels))
    f = write(tmp_path / "d.jsonl", body + "\r\n")
    ex = load_examples(f)
    assert ex.texts == texts and ex.labels == labels
    assert [ex.where(i) for i in (0, 3)] == ["row 1 (line 1)", "row 4 (line 7)"]
    (df, lines, offset), = read_chunks(f, 10)
    assert df["text"].tolist() == texts and lines == [1, 3, 5, 7] and offset == 0


def test_blank_line_in_one_column_file_is_an_empty_row(tmp_path):
    f = write(tmp_path / "d.csv", "text\nfirst\n\nthird\n")
    with pytest.raises(DataError, match=r"d.csv: column 'text' is empty in row 2 \(line 3\)"):
        load_examples(f, require_labels=False)


def test_blank_line_in_labelled_file_is_reported_not_skipped(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\ngood,b\n\nbad,a\n")
    with pytest.raises(DataError, match=r"empty in row 2 \(line 3\)"):
        load_examples(f)


def test_row_with_extra_field_is_an_error_not_a_shifted_index(tmp_path):
    f = write(tmp_path / "d.csv", "text,label\ngood, really good,b\nbad,a\nok,c\n")
    with pytest.raises(DataError, match=r"d.csv.*line 2 has 3 fields where the header has 2"):
        load_examples(f)


def test_row_with_missing_field_is_an_error_not_padded(tmp_path):
    f = write(tmp_path / "d.csv", "id,text\n1,good\n2\n3,fine\n")
    with pytest.raises(DataError, match=r"d.csv.*line 3 has 1 fields where the header has 2"):
        load_examples(f, require_labels=False)


def test_one_column_csv_with_semicolons_is_not_split(tmp_path):
    f = write(tmp_path / "d.csv", "text\nhello; world\nfoo; bar\nbaz; qux\n")
    ex = load_examples(f, require_labels=False)
    assert ex.texts == ["hello; world", "foo; bar", "baz; qux"]


def test_cli_commands_that_read_data_take_quoting(tmp_path, probe_model, tiny_texts):
    from typer.testing import CliRunner

    from textune.cli import app

    runner = CliRunner()
    texts, labels = tiny_texts
    texts = [t.replace(" ", "\n", 1) if i % 3 == 0 else t for i, t in enumerate(texts)]
    f = tmp_path / "held.tsv"
    pd.DataFrame({"sentence": texts, "label": labels}).to_csv(f, sep="\t", index=False)
    r = runner.invoke(app, ["evaluate", str(probe_model[1]), "--data", str(f), "--json", "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["n"] == len(texts)
    for cmd in (["evaluate", str(probe_model[1])], ["train", "--output", str(tmp_path / "m")]):
        r = runner.invoke(app, cmd + ["--data", str(f), "--quoting", "none", "-q"])
        assert r.exit_code == 2 and "held.tsv" in r.output and "--quoting csv" in r.output
    r = runner.invoke(app, ["compare", "--data", str(f), "--eval-data", str(f), "--output",
                            str(tmp_path / "c"), "--quoting", "bogus", "-q"])
    assert r.exit_code == 2 and "unknown quoting 'bogus'" in r.output


def test_blank_lines_that_end_the_file_are_not_rows(tmp_path):
    """An editor's trailing empty lines end the file; a blank line before a row stays a row."""
    assert len(load_examples(write(tmp_path / "a.csv", "text,label\nhi,a\nbye,b\n\n\n"))) == 2
    with pytest.raises(DataError, match=r"row 2 \(line 3\)"):
        load_examples(write(tmp_path / "b.csv", "text,label\nhi,a\n\nbye,b\n\n"))
