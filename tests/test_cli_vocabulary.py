"""One vocabulary across commands (issue 27 item 4): one meaning per option name; each old
spelling still works, hidden from --help, and warns once naming the new one; `--json` help
names the keys the command prints. Runs on the tiny backbone: this checks the options, not
accuracy."""

import json
import re

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from textune.cli import app

runner = CliRunner()

# (command, new spelling, old spelling)
RENAMED = [("train", "--label-names-file", "--label-names"),
           ("evaluate", "--label-names-file", "--label-names"),
           ("train", "--label-words", "--verbalizers"),
           ("compare", "--label-words", "--label-names"),
           ("compare", "--zero-shot-template", "--template"),
           ("predict", "--output-format", "--format"),
           ("predict", "--rows-per-batch", "--batch-size")]

TEXTS = {"0": ["the match ended in a late goal", "the striker scored twice",
               "the team won the league title", "a penalty decided the final",
               "the coach praised his defenders", "fans cheered the home side"],
         "1": ["the central bank raised interest rates", "shares fell on weak profits",
               "the company reported record revenue", "inflation slowed this quarter",
               "investors sold their bonds", "the merger lifted the stock price"],
         "2": ["the new phone has a faster chip", "the software update fixes bugs",
               "engineers built a smaller processor", "the app now runs offline",
               "a new laptop with a bright screen", "the browser blocks trackers"]}
WORDS = "0=sport,1=business,2=technology"


@pytest.fixture(scope="module")
def ids_csv(tmp_path_factory):
    """3 classes, digit-string labels (ids that label words name)."""
    path = tmp_path_factory.mktemp("vocab") / "ids.csv"
    rows = [(t, label) for label, texts in TEXTS.items() for t in texts]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def names_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "names.txt"
    path.write_text("sport\nbusiness\ntechnology\n")
    return path


def _params(command: str) -> list:
    return typer.main.get_command(app).commands[command].params


def _invoke(*args) -> "typer.testing.Result":
    return runner.invoke(app, [str(a) for a in args])


def _json(r) -> dict:
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout.strip().splitlines()[-1])


def _warned(r, old: str, new: str) -> bool:
    return r.stderr.count(f"{old} is the old spelling of {new}") == 1


@pytest.mark.parametrize("command,new,old", RENAMED)
def test_help_lists_the_new_spelling_and_hides_the_old(command, new, old):
    by_opt = {o: p for p in _params(command) for o in p.opts}
    assert not by_opt[new].hidden and by_opt[old].hidden
    text = _invoke(command, "--help").output
    assert re.search(rf"(?<![\w-]){re.escape(new)}(?![\w-])", text)
    assert not re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", text), old


def test_one_meaning_per_option_name():
    """A data option several commands read says the same thing in each (one declaration);
    the names that meant two things are each left with one command (or none)."""
    helps: dict[str, set] = {}
    where: dict[str, set] = {}
    for name, command in typer.main.get_command(app).commands.items():
        for p in command.params:
            if p.param_type_name == "option" and not p.hidden:
                for o in p.opts:
                    helps.setdefault(o, set()).add(p.help)
                    where.setdefault(o, set()).add(name)
    shared = ("--label-names-file", "--text-column", "--text-pair-column", "--label-column",
              "--multi-label", "--label-separator", "--quoting", "--no-header")
    assert all(len(helps[o]) == 1 for o in shared), {o: helps[o] for o in shared}
    assert where["--label-names-file"] == {"train", "evaluate", "compare"}
    assert where["--label-words"] == {"train", "compare"}
    assert (where["--template"], where["--format"], where["--batch-size"]) == (
        {"train"}, {"export"}, {"train"})
    assert "--label-names" not in where and "--verbalizers" not in where


def test_train_and_evaluate_read_the_old_spellings_with_a_warning(ids_csv, names_file,
                                                                  tiny_backbone, tmp_path):
    common = ["--method", "probe", "--model", tiny_backbone, "--data", ids_csv, "--json"]
    new, old = tmp_path / "new", tmp_path / "old"
    r = _invoke("train", *common, "--label-words", WORDS, "--output", new)
    assert "old spelling" not in r.stderr and _json(r)["labels"] == ["0", "1", "2"]
    r = _invoke("train", *common, "--verbalizers", WORDS, "--output", old)
    assert _warned(r, "--verbalizers", "--label-words") and _json(r)
    saved = [json.loads((m / "textune.json").read_text())["params"]["verbalizers"]
             for m in (new, old)]
    assert saved[0] == saved[1] == {"0": "sport", "1": "business", "2": "technology"}
    r = _invoke("train", *common, "--verbalizers", WORDS, "--label-words", WORDS, "--output",
                tmp_path / "both")
    assert r.exit_code == 2 and "give one of them, not both" in r.output

    # the labels file (of label sets): ids into it name the labels
    ml = tmp_path / "ml"
    r = _invoke("train", "--method", "probe", "--model", tiny_backbone, "--data", ids_csv,
                "--multi-label", "--label-names", names_file, "--output", ml, "--json")
    assert _warned(r, "--label-names", "--label-names-file")
    assert _json(r)["labels"] == ["sport", "business", "technology"]
    r = _invoke("evaluate", ml, "--data", ids_csv, "--multi-label", "--label-names",
                names_file, "--json")
    assert _warned(r, "--label-names", "--label-names-file") and _json(r)["n"] == 18
    r = _invoke("evaluate", ml, "--data", ids_csv, "--multi-label", "--label-names-file",
                names_file, "--json")
    assert "old spelling" not in r.stderr and _json(r)["n"] == 18


def test_predict_reads_its_old_spellings_with_a_warning(ids_csv, tiny_backbone, tmp_path):
    model = tmp_path / "m"
    _json(_invoke("train", "--method", "probe", "--model", tiny_backbone, "--data", ids_csv,
                  "--output", model, "--json", "-q"))
    r = _invoke("predict", model, "--data", ids_csv, "--output", tmp_path / "p.jsonl",
                "--format", "jsonl", "--json")
    assert _warned(r, "--format", "--output-format") and _json(r)["n"] == 18
    r = _invoke("predict", model, "--data", ids_csv, "--output", tmp_path / "p.jsonl",
                "--batch-size", "7")  # read as --rows-per-batch: a Ray option
    assert _warned(r, "--batch-size", "--rows-per-batch")
    assert r.exit_code == 2 and "--rows-per-batch: only with --engine ray" in r.output


def test_compare_reads_its_old_spellings_with_a_warning(ids_csv, tiny_backbone, tmp_path):
    out = tmp_path / "cmp"
    r = _invoke("compare", "--data", ids_csv, "--eval-data", ids_csv, "--model", tiny_backbone,
                "--methods", "probe", "--shots", "0", "--seeds", "2", "--label-names", WORDS,
                "--template", "This is about {label}.", "--template", "A {label} story.",
                "--output", out, "--json", "-q")
    assert _warned(r, "--label-names", "--label-words")
    assert _warned(r, "--template", "--zero-shot-template")
    assert "--seeds 2 is read as a count" in r.stderr and "--n-seeds 2" in r.stderr
    assert _json(r)["cells"] == 2  # seeds 0 and 1
    header = (out / "report.md").read_text()
    assert "--label-words 0=sport,1=business,2=technology" in header
    assert "--zero-shot-template 'This is about {label}.'" in header
    assert "--n-seeds 2" in header and "--label-names " not in header

    # the new spellings: no warning; --seeds lists seeds, --n-seeds counts them
    r = _invoke("compare", "--data", ids_csv, "--eval-data", ids_csv, "--model", tiny_backbone,
                "--methods", "probe", "--shots", "0", "--seeds", "5,", "--label-words", WORDS,
                "--zero-shot-template", "This is about {label}.", "--output",
                tmp_path / "cmp2", "--json", "-q")
    assert "old spelling" not in r.stderr and "count" not in r.stderr
    seeds = {json.loads(line)["seed"] for line in
             (tmp_path / "cmp2" / "results.jsonl").read_text().splitlines()}
    assert seeds == {5} and _json(r)["cells"] == 1
    r = _invoke("compare", "--data", ids_csv, "--eval-data", ids_csv, "--seeds", "1,2",
                "--n-seeds", "3", "--output", tmp_path / "cmp3")
    assert r.exit_code == 2 and "give one" in r.output


def _help_keys(command: str) -> tuple[set, str]:
    """The keys a command's --json help names, and the one its jq example reads."""
    help_text = next(p.help for p in _params(command) if "--json" in p.opts)
    keys, example = re.match(r".*its keys: (.*)\. Example: .*jq '?\.([a-z0-9_]+)", help_text,
                             re.S).groups()
    return set(re.findall(r"[a-z_][a-z0-9_]*", keys)), example


def _check_keys(command: str, printed: dict) -> None:
    named, example = _help_keys(command)
    assert set(printed) <= named, set(printed) - named
    assert example in printed


def test_json_help_names_the_keys_each_command_prints(ids_csv, tiny_backbone, tmp_path):
    model = tmp_path / "m"
    _check_keys("train", _json(_invoke("train", "--method", "probe", "--model", tiny_backbone,
                                       "--data", ids_csv, "--output", model, "--json", "-q")))
    _check_keys("evaluate", _json(_invoke("evaluate", model, "--data", ids_csv, "--json",
                                          "-q")))
    _check_keys("predict", _json(_invoke("predict", model, "--data", ids_csv, "--output",
                                         tmp_path / "p.jsonl", "--json", "-q")))
    printed = _json(_invoke("methods", "--json"))
    assert set(printed) == {"methods"} and _help_keys("methods")[1] == "methods"
    for command in ("methods", "export", "predict", "compare", "train"):
        assert "jq .accuracy" not in next(p.help for p in _params(command)
                                          if "--json" in p.opts), command
