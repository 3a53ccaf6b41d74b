"""`textune compare`: grid runner (resume, no cell twice), zero-shot, reports, HTML rendering."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from textune import load_examples
from textune.cli import app
from textune.compare import (check_methods, parse_label_names, parse_seeds, parse_shots,
                             read_results, run_grid, templated_examples, write_report)

runner = CliRunner()


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


# ------------------------------------------------------------------ specs (no model)

def test_grid_specs_parse_and_reject_clearly():
    assert parse_shots("0, 8,16,all,8") == [0, 8, 16, "all"]
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("4,1") == [4, 1]
    with pytest.raises(ValueError, match="integers >= 0 or 'all'"):
        parse_shots("8,many")
    with pytest.raises(ValueError, match="unknown method.*lorra; available: finetune, peft"):
        check_methods(["probe", "finetune", "lorra"])
    check_methods(["probe", "setfit", "finetune", "peft", "lora", "ptuning"])
    assert parse_label_names("0=negative, 1=positive") == {"0": "negative", "1": "positive"}


def test_zero_shot_examples_come_from_label_names_and_templates():
    ex = templated_examples([0, 1], ["This sentence is {label}.", "So {label}!"],
                            {"0": "negative", "1": "positive"})
    assert ex.texts == ["This sentence is negative.", "This sentence is positive.",
                        "So negative!", "So positive!"]
    assert ex.labels == [0, 1, 0, 1]
    default = templated_examples(["sport", "tech_news"])
    assert "This sentence is tech news." in default.texts and len(default) >= 6


def test_cli_rejects_unregistered_methods_up_front(tmp_path):
    r = runner.invoke(app, ["compare", "--data", "x.csv", "--eval-data", "y.csv",
                            "--methods", "probe,finetune,lorra", "--output", str(tmp_path)])
    assert r.exit_code == 2
    assert "unknown method(s) lorra; available: finetune, peft, probe, setfit, ia3, lora" in r.output
    assert "Traceback" not in r.output


def test_compare_help_has_an_example():
    r = subprocess.run([sys.executable, "-m", "textune", "compare", "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Example: textune compare" in r.stdout and "--eval-data" in r.stdout


# ------------------------------------------------------------------ real grid, real model

class Interrupted(Exception):
    pass


@pytest.fixture()
def sst2_small(tmp_path, sst2_train, sst2_test):
    """Small real SST-2 files (CSV) so the CLI and the library read the same data."""
    import pandas as pd

    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame({"text": sst2_train.texts[:300], "label": sst2_train.labels[:300]}).to_csv(
        train, index=False)
    idx = list(range(0, len(sst2_test), len(sst2_test) // 24))[:24]
    pd.DataFrame({"text": [sst2_test.texts[i] for i in idx],
                  "label": [sst2_test.labels[i] for i in idx]}).to_csv(test, index=False)
    return train, test


@pytest.mark.slow
def test_interrupted_grid_resumes_without_redoing_cells(tmp_path, sst2_small):
    train_csv, test_csv = sst2_small
    out = tmp_path / "cmp"
    train, test = load_examples(str(train_csv)), load_examples(str(test_csv))

    def stop_after_first(record):
        raise Interrupted(record)

    with pytest.raises(Interrupted):  # the run dies right after its first cell is on disk
        run_grid(train, test, out, methods=["probe", "setfit"], shots=[2, 4], seeds=2,
                 params={"steps": 2}, on_cell=stop_after_first)
    first = (out / "results.jsonl").read_text().splitlines()
    assert len(first) == 1 and json.loads(first[0])["status"] == "ok"

    args = ["compare", "--data", str(train_csv), "--eval-data", str(test_csv),
            "--methods", "probe,setfit", "--shots", "2,4", "--n-seeds", "2", "--steps", "2",
            "--output", str(out), "--json", "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    lines = (out / "results.jsonl").read_text().splitlines()
    assert lines[0] == first[0]  # the finished cell was kept, not redone
    rows = [json.loads(x) for x in lines]
    cells = [(x["method"], x["shots"], x["seed"]) for x in rows]
    assert len(cells) == 8 and len(set(cells)) == 8
    assert all(x["status"] == "ok" and 0 <= x["accuracy"] <= 1 and x["train_seconds"] > 0
               and x["predict_per_second"] > 0 and x["n_test"] == 24 for x in rows)
    # every method trains on the same sample at a given (shots, seed); seeds differ
    sample = {(x["shots"], x["seed"]): set() for x in rows}
    for x in rows:
        sample[(x["shots"], x["seed"])].add(x["sample_id"])
    assert all(len(v) == 1 for v in sample.values())
    assert len({next(iter(v)) for v in sample.values()}) == 4
    by_method = {x["method"]: x["trainable_parameters"] for x in rows}
    assert by_method["probe"] < 1000 < by_method["setfit"]

    summary = last_json(r.output)
    assert summary["cells"] == 8 and summary["failed"] == 0
    md = (out / "report.md").read_text()
    for m, s, seed in cells:  # one "All cells" row per cell
        assert f"| {m} | {s} | {seed} |" in md
    assert "## Recommendation" in md and "accuracy_vs_shots.png" in md
    assert "textune" in md and "torch" in md and "--shots 2,4" in md
    assert (out / "accuracy_vs_shots.png").stat().st_size > 1000
    assert (out / "accuracy_vs_train_seconds.png").stat().st_size > 1000
    assert "data:image/png;base64," in (out / "report.html").read_text()

    r = runner.invoke(app, args)  # a finished grid reruns nothing
    assert r.exit_code == 0, r.output
    assert (out / "results.jsonl").read_text().splitlines() == lines

    r = runner.invoke(app, args[:-4] + ["--output", str(out), "--steps", "3", "-q"])
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "different params" in said  # no silent mixing
    assert "params.steps: 2 -> 3" in said  # what changed, not only where


def test_zero_shot_and_failed_cells_do_not_stop_the_grid(tmp_path, tiny_texts):
    from textune import from_lists

    texts, labels = tiny_texts
    ex = from_lists(texts, labels)
    out = tmp_path / "zs"
    recs = run_grid(ex, ex, out, methods=["probe", "nope"], shots=[0], seeds=1,
                    label_names={"pos": "positive", "neg": "negative"},
                    templates=["This movie is {label}.", "A {label} review."])
    ok, bad = recs
    assert ok["status"] == "ok" and ok["n_train"] == 4 and ok["accuracy"] >= 0.75
    assert bad["status"] == "error" and "unknown method 'nope'" in bad["error"]
    result = write_report(out)
    assert result["failed"] == 1
    assert "## Failed cells" in (out / "report.md").read_text()
    assert "0 (zero-shot)" in (out / "report.md").read_text()
    run_grid(ex, ex, out, methods=["probe", "nope"], shots=[0], seeds=1,
             label_names={"pos": "positive", "neg": "negative"},
             templates=["This movie is {label}.", "A {label} review."])
    again = read_results(out)  # failed cells are retried, finished ones are not
    assert [r["method"] for r in again] == ["probe", "nope", "nope"]


def test_zero_shot_on_text_pairs_is_refused_before_the_grid_runs(tmp_path):
    """Every shots-0 cell failed on pair data, after the grid had started; label names cannot
    teach how two texts relate, so it is refused up front with what to do."""
    import pandas as pd

    from textune import DataError, from_lists

    firsts = ["the cat sat on the mat", "stocks fell on monday", "she won the final",
              "rain is expected tomorrow", "the bank cut its rates", "he missed the train"]
    seconds = ["a cat was sitting on the mat", "the weather will be sunny", "she lost early",
               "tomorrow will bring rain", "the match was a draw", "he caught the bus"]
    labels = ["same", "different", "contradicts", "same", "different", "contradicts"]
    ex = from_lists(firsts, labels, text_pairs=seconds)
    out = tmp_path / "pairs"
    with pytest.raises(DataError, match=r"--shots 0 \(zero-shot\).*text-pair data needs "
                                        r"labelled pairs. Drop 0 from --shots"):
        run_grid(ex, ex, out, methods=["probe"], shots=[2, 0], seeds=1)
    assert not (out / "results.jsonl").exists()  # refused before any cell ran

    data = tmp_path / "pairs.csv"
    pd.DataFrame({"text": firsts, "text_pair": seconds, "label": labels}).to_csv(data,
                                                                                  index=False)
    r = runner.invoke(app, ["compare", "--data", str(data), "--eval-data", str(data),
                            "--text-pair-column", "text_pair", "--methods", "probe",
                            "--shots", "0,2", "--output", str(tmp_path / "cli")])
    assert r.exit_code == 2 and "Drop 0 from --shots" in r.output, r.output
    assert "Traceback" not in r.output
    run_grid(ex, ex, tmp_path / "ok", methods=["probe"], shots=[2], seeds=1)  # pairs still run


def test_resume_with_changed_data_is_refused_naming_it_and_restart_starts_over(tmp_path):
    """Resuming a grid whose training file was edited is refused, naming the fields that
    changed; --restart deletes only what compare wrote and runs the grid again."""
    import pandas as pd

    texts = ["the striker scored twice", "a late goal won the match", "the keeper saved it",
             "bake the bread for an hour", "whisk the eggs with sugar", "simmer the soup",
             "rain spreads from the west", "sunny spells this afternoon", "gales overnight"]
    labels = ["sport"] * 3 + ["food"] * 3 + ["weather"] * 3
    data, out = tmp_path / "train.csv", tmp_path / "cmp"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    args = ["compare", "--data", str(data), "--eval-data", str(data), "--methods", "probe",
            "--shots", "2", "--seeds", "0,", "--output", str(out), "--json", "-q"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    written = sorted(p.name for p in out.iterdir())
    (out / "notes.md").write_text("mine")
    pd.DataFrame({"text": texts + ["snow on the hills"], "label": labels + ["weather"]}) \
        .to_csv(data, index=False)
    r = runner.invoke(app, args)
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "different train, eval" in said and "train.rows: 9 -> 10" in said
    assert "--restart" in said
    assert len(read_results(out)) == 1  # nothing run, nothing deleted
    r = runner.invoke(app, args + ["--restart"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(written + ["notes.md"])
    (rec,) = read_results(out)  # the old cell is gone, the new one trained on 10 rows
    assert rec["status"] == "ok" and rec["n_test"] == 10
    assert json.loads((out / "run.json").read_text())["fingerprint"]["train"]["rows"] == 10


# ------------------------------------------------------------------ the HTML in a browser

def _fake_results(out):
    out.mkdir()
    rows = []
    for method, acc in (("probe", 0.6), ("setfit", 0.66)):
        for shots in (8, 16, 64):
            for seed in range(3):
                a = acc + 0.05 * (shots / 64) + 0.01 * seed
                rows.append({"method": method, "shots": shots, "seed": seed, "status": "ok",
                             "n_train": 2 * shots, "n_test": 100, "sample_id": f"s{shots}{seed}",
                             "accuracy": a, "f1_macro": a - 0.01,
                             "train_seconds": (0.2 if method == "probe" else 5.0) * shots / 8,
                             "predict_per_second": 300.0, "trainable_parameters": 385})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no headless Chromium found (apt-get install chromium) to render the report")


def test_html_report_renders_with_plots_in_headless_chromium(tmp_path):
    from matplotlib.image import imread

    browser = _chromium()
    out = tmp_path / "report"
    _fake_results(out)
    write_report(out, command="textune compare --fake")
    url = (out / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-plots-loaded="2/2"' in dom.stdout  # both embedded PNGs decoded
    assert "Uncaught" not in dom.stderr  # no JavaScript errors
    shot = tmp_path / "report.png"
    r = subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1000,3000",
                        url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    img = imread(str(shot))[..., :3]
    blue = (np.abs(img - np.array([31, 119, 180]) / 255).max(axis=-1) < 0.05).sum()
    assert blue > 200  # matplotlib's first line colour: the plots are on the page


def test_recommendation_says_when_more_labels_would_still_help():
    from textune.compare.report import recommend

    def row(method, shots, acc, std=0.01, secs=1.0):
        return {"method": method, "shots": shots, "accuracy": acc, "accuracy_std": std,
                "train_seconds": secs, "seeds": 5}

    rising = [row("probe", 8, 0.77), row("setfit", 8, 0.85, secs=13),
              row("probe", 64, 0.86), row("setfit", 64, 0.90, secs=99)]
    lines = recommend(rising)
    assert lines[0].startswith("With 8 labelled examples per class: use setfit (0.850")
    assert "still rising" in lines[-1] and "setfit with 64" in lines[-1]
    plateau = rising[:2] + [row("probe", 64, 0.86), row("setfit", 64, 0.86, std=0.03, secs=99)]
    lines = recommend(plateau)
    assert "within noise" in lines[1] and "use probe" in lines[1]
    assert lines[-1].startswith("How many labels: setfit with 8 per class gets within 0.02")


def test_recommendation_compares_methods_seed_by_seed():
    """Methods share each seed's sample, so a small gap that holds on every seed is real even
    when the seeds' spread is large; a gap that flips sign between seeds is noise."""
    from textune.compare.report import recommend

    def row(method, per_seed, secs):
        acc = np.array(list(per_seed.values()))
        return {"method": method, "shots": 64, "accuracy": acc.mean(),
                "accuracy_std": acc.std(ddof=1), "train_seconds": secs, "seeds": len(acc),
                "per_seed": per_seed}

    probe = {0: 0.70, 1: 0.80, 2: 0.75, 3: 0.85, 4: 0.78}
    steady = row("setfit", {k: v + 0.02 for k, v in probe.items()}, 90.0)
    line = recommend([row("probe", probe, 4.0), steady])[0]
    assert "use setfit" in line and "ahead on 5 of 5" in line and "probe trains 22.5× faster" in line
    flipping = row("setfit", {k: v + d for (k, v), d in zip(probe.items(),
                                                            (0.05, -0.04, 0.03, -0.03, 0.02))}, 90.0)
    line = recommend([row("probe", probe, 4.0), flipping])[0]
    assert "within noise" in line and "use probe" in line and "paired over 5 seeds" in line


def test_compare_scores_csv_labels_against_a_model_trained_on_json_numbers(tmp_path,
                                                                          tiny_texts):
    """Training labels 0/1 from JSONL, evaluation labels "0"/"1" from CSV: the same classes
    (every cell failed with KeyError '0' once CSV digits stopped turning into numbers)."""
    import pandas as pd

    from textune import load_examples

    texts, labels = tiny_texts
    ids = [int(y == "pos") for y in labels]
    train = tmp_path / "train.jsonl"
    pd.DataFrame({"text": texts, "label": ids}).to_json(train, orient="records", lines=True)
    test = tmp_path / "test.csv"
    pd.DataFrame({"text": texts, "label": [str(i) for i in ids]}).to_csv(test, index=False)
    (rec,) = run_grid(load_examples(train), load_examples(test), tmp_path / "out",
                      methods=["probe"], shots=[4], seeds=1)
    assert rec["status"] == "ok", rec.get("error")
    assert rec["accuracy"] >= 0.75
