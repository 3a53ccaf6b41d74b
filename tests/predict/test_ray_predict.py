"""`textune predict --engine ray` and the Ray guide's Ray Data recipe (docs/guides/ray.md), on a 2-CPU local cluster.

The Ray answers are compared row by row with the local engine's JSON Lines on the same rows,
with a 3-class model whose labels are digit strings first seen in non-sorted order ("2",
"10", "07": a label read back as a number, or columns matched by position, fails). One Ray
session serves the whole module (starting one costs ~10 s); each pipeline run starts its
actors (a model load each), hence the `slow` marks.
"""

import json
import os
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from textune.cli import app
from textune.data import DataError
from textune.serving.ray_predict import RayPredictor, input_files, ray_predict
from tests.predict.test_batch_predict import TOPICS

runner = CliRunner()
README = Path(__file__).resolve().parents[2] / "docs" / "guides" / "ray.md"  # the Ray guide
try:
    import ray
    import ray.data  # noqa: F401
except ImportError:
    ray = None
needs_ray = pytest.mark.skipif(ray is None, reason="Ray is not installed: pip install "
                               "'textune[ray]' (the dev extra has it)")

TEXTS = [t for group in zip(*TOPICS.values()) for t in group]
MORE = ["the goalkeeper saved a penalty", "fry the garlic in olive oil",
        "fog this morning, clearing later", "a hat-trick in the derby",
        "roast the chicken with lemon", "frost on the roads tonight"]


@pytest.fixture(scope="module")
def cluster(workdir):
    """A local 2-CPU cluster started from `workdir`: its workers run there, as they run in
    the folder of a script that calls `ray.init()` (the README's relative paths)."""
    if ray is None:
        pytest.skip("Ray is not installed: pip install 'textune[ray]'")
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    finally:
        os.chdir(cwd)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """my-model (a probe on TOPICS), texts/ (two Parquet files, as the README's commands
    read), mixed/ (CSV with a quoted multi-line text, JSONL, Parquet with another column
    name: read in sorted order a.csv, b.jsonl, c.parquet)."""
    from textune import TextClassifier

    root = tmp_path_factory.mktemp("ray")
    labels = [y for _ in range(4) for y in TOPICS]
    TextClassifier(method="probe").fit(TEXTS, labels).save(root / "my-model")
    (root / "texts").mkdir()
    pd.DataFrame({"id": range(12), "text": TEXTS}).to_parquet(root / "texts" / "part-1.parquet")
    pd.DataFrame({"id": range(12, 30), "text": MORE * 3}).to_parquet(
        root / "texts" / "part-2.parquet")
    mixed = root / "mixed"
    mixed.mkdir()
    pd.DataFrame({"text": TEXTS[:5] + ["rain,\nthen \"sun\""], "label": ["x"] * 6}).to_csv(
        mixed / "a.csv", index=False)
    pd.DataFrame({"text": MORE * 7}).to_json(mixed / "b.jsonl", orient="records", lines=True)
    pd.DataFrame({"sentence": TEXTS[5:] * 5}).to_parquet(mixed / "c.parquet")
    (mixed / ".hidden.csv").write_text("text\nnot an input\n")
    return root


def local_rows(files, model, tmp_path):
    """The local engine (`textune predict`, one file at a time), rows in input order."""
    rows = []
    for i, f in enumerate(files):
        out = tmp_path / f"local-{i}.jsonl"
        res = runner.invoke(app, ["predict", str(model), "--data", str(f), "--output",
                                  str(out), "--quiet"])
        assert res.exit_code == 0, res.output
        rows += [json.loads(line) for line in out.read_text().splitlines()]
    return rows


def assert_same_as_local(got: pd.DataFrame, want: list[dict]):
    """got: row, label, proba_<label> (any part order) == the local JSONL, row by row."""
    got = got.sort_values("row").reset_index(drop=True)
    assert got["row"].tolist() == list(range(len(want)))  # each row once, none lost
    assert got["label"].tolist() == [w["label"] for w in want]
    assert all(isinstance(v, str) for v in got["label"])  # "07" stays "07"
    labels = list(want[0]["probabilities"])
    assert sorted(labels) == sorted(TOPICS)
    proba = got[[f"proba_{c}" for c in labels]].to_numpy(np.float64)
    expect = np.array([[w["probabilities"][c] for c in labels] for w in want])
    assert np.abs(proba - expect).max() < 2e-6  # local rounds to 6 decimals


def read_parts(folder: Path, fmt: str) -> pd.DataFrame:
    parts = sorted(folder.glob(f"part-*.{fmt}"))
    if fmt == "parquet":
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    rows = [json.loads(line) for p in parts for line in p.read_text().splitlines()]
    return pd.DataFrame([{"row": r["row"], "label": r["label"],
                          **{f"proba_{c}": v for c, v in r["probabilities"].items()}}
                         for r in rows])


def readme_block(marker: str, lang: str) -> str:
    """The Ray guide's code block (```lang) that contains `marker`."""
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{README.name}: one ```{lang} block with {marker!r}"
    return found[0]


# ------------------------------------------------------------------------------ no Ray needed


def test_input_files_sorted_hidden_skipped_and_globs(tmp_path):
    for name in ["b.jsonl", "a.csv", "c.parquet", "_SUCCESS", ".x.csv", "notes.md"]:
        (tmp_path / name).write_text("text\nx\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "0.csv").write_text("text\nx\n")
    assert [p.name for p in input_files(tmp_path)] == ["a.csv", "b.jsonl", "c.parquet"]
    assert [p.name for p in input_files(f"{tmp_path}/**/*.csv")] == ["a.csv", "0.csv"]
    assert input_files(tmp_path / "a.csv") == [tmp_path / "a.csv"]
    with pytest.raises(DataError, match="no such file or folder"):
        input_files(tmp_path / "missing")
    with pytest.raises(DataError, match="holds no CSV"):
        input_files(f"{tmp_path}/*.tsv")


def test_without_ray_the_error_says_how_to_install(probe_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    src = tmp_path / "in.csv"
    src.write_text("text\na fine film\n")
    res = runner.invoke(app, ["predict", str(probe_model[1]), "--data", str(src), "--output",
                              str(tmp_path / "out"), "--engine", "ray"])
    assert res.exit_code == 2
    assert "pip install 'textune[ray]'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()  # nothing written


def test_ray_options_need_the_ray_engine(probe_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("text\na fine film\n")
    res = runner.invoke(app, ["predict", str(probe_model[1]), "--data", str(src), "--output",
                              str(tmp_path / "out.jsonl"), "--actors", "2"])
    assert res.exit_code == 2 and "--actors: only with --engine ray" in res.output
    assert not (tmp_path / "out.jsonl").exists()


@needs_ray
def test_a_folder_of_parts_without_a_manifest_is_refused_before_ray_starts(probe_model,
                                                                           tmp_path):
    """Parts from textune < 0.3 (or copied in) say nothing about their inputs: refused, with
    --restart named, and nothing deleted."""
    src = tmp_path / "in.csv"
    src.write_text("text\na fine film\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000-in.csv.parquet").write_text("stale")
    res = runner.invoke(app, ["predict", str(probe_model[1]), "--data", str(src), "--output",
                              str(out), "--engine", "ray", "-q"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "holds 1 parts (part-00000-in.csv.parquet, ...) but no _manifest.json" in res.output
    assert "--restart" in res.output
    assert [p.name for p in out.iterdir()] == ["part-00000-in.csv.parquet"]
    res = runner.invoke(app, ["predict", str(probe_model[1]), "--data", str(src), "--output",
                              str(tmp_path / "o.jsonl"), "--restart"])
    assert res.exit_code == 2 and "--restart: only with --engine ray" in res.output


# ------------------------------------------------------------------------------ on Ray


@needs_ray
@pytest.mark.slow
def test_readme_command_matches_local_engine_and_resumes(cluster, workdir, tmp_path,
                                                         monkeypatch):
    line = next(ln for ln in readme_block("--engine ray", "bash").splitlines()
                if ln.startswith("textune predict"))
    monkeypatch.chdir(workdir)
    res = runner.invoke(app, shlex.split(line)[1:] + ["--json", "--quiet"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert (out["engine"], out["n"], out["predicted"], out["skipped"]) == ("ray", 30, 30, 0)
    assert [Path(p).name for p in out["parts"]] == ["part-00000-part-1.parquet.parquet",
                                                    "part-00001-part-2.parquet.parquet"]
    want = local_rows(input_files(workdir / "texts"), workdir / "my-model", tmp_path)
    assert_same_as_local(read_parts(workdir / "predictions", "parquet"), want)
    # the same command again: every part is complete, nothing is predicted
    res = runner.invoke(app, shlex.split(line)[1:] + ["--json", "--quiet"])
    again = json.loads(res.output.strip().splitlines()[-1])
    assert (again["n"], again["predicted"], again["skipped"]) == (30, 0, 2)


@needs_ray
@pytest.mark.slow
def test_resume_refuses_what_changed_and_restart_starts_over(cluster, workdir, tmp_path):
    """The issue's case: b.csv + c.csv predicted, then a.csv added (it sorts first). Resuming
    kept the 2 stale parts and added 3 renumbered ones. Now that, an edited finished input,
    another format and another model are each refused before Ray starts, naming the change,
    and --restart deletes only textune's files and predicts all again."""
    from textune import TextClassifier

    data, out = tmp_path / "in", tmp_path / "out"
    data.mkdir()
    (data / "b.csv").write_text("text\n" + "\n".join(TEXTS) + "\n")
    (data / "c.csv").write_text("text\n" + "\n".join(MORE) + "\n")
    model = str(workdir / "my-model")
    args = ["predict", model, "--data", str(data), "--output", str(out), "--engine", "ray",
            "--json", "-q"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["n"] == 18
    manifest = json.loads((out / "_manifest.json").read_text())
    assert [(Path(i["path"]).name, i["rows"]) for i in manifest["inputs"]] == [
        ("b.csv", 12), ("c.csv", 6)]
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def refused(*extra, model=model):
        res = runner.invoke(app, ["predict", model, *args[2:], *extra])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert "--restart" in res.output
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
        return " ".join(res.output.split())  # unwrapped

    (data / "a.csv").write_text("text\n" + "\n".join(MORE[:4]) + "\n")
    assert f"input {(data / 'a.csv').resolve()} is new and sorts before a finished input" \
        in refused()
    (data / "a.csv").unlink()
    c = (data / "c.csv").read_text()
    (data / "c.csv").write_text(c + "one more line\n")
    assert f"input {(data / 'c.csv').resolve()} (finished) changed: size" in refused()
    (data / "c.csv").write_text(c)  # back to the same bytes, but modified since
    assert "(finished) changed: modified since (same size" in refused()
    os.utime(data / "c.csv", ns=(manifest["inputs"][1]["mtime_ns"],) * 2)
    assert '--output-format: "parquet" -> "jsonl"' in refused("--output-format", "jsonl")
    other = tmp_path / "other-model"
    TextClassifier(method="probe").fit(TEXTS, [y for _ in range(4) for y in TOPICS][::-1]) \
        .save(other)
    assert "model.fingerprint: " in refused(model=str(other))

    (data / "a.csv").write_text("text\n" + "\n".join(MORE[:4]) + "\n")
    (out / "notes.txt").write_text("mine")  # not textune's: --restart leaves it
    res = runner.invoke(app, args + ["--restart", "--output-format", "jsonl"])
    assert res.exit_code == 0, res.output
    assert (json.loads(res.output.strip().splitlines()[-1])["predicted"]) == 22
    assert sorted(p.name for p in out.iterdir()) == [
        "_manifest.json", "notes.txt", "part-00000-a.csv.jsonl", "part-00001-b.csv.jsonl",
        "part-00002-c.csv.jsonl"]
    got = read_parts(out, "jsonl")
    assert got["row"].tolist() == list(range(22))  # 4 + 12 + 6, once each, no stale rows
    want = local_rows([data / "a.csv", data / "b.csv", data / "c.csv"], workdir / "my-model",
                      tmp_path)
    assert_same_as_local(got, want)


def crash_once(marker: Path, file: int, row: int):
    """A RayPredictor whose process dies (os._exit) on the batch holding `row` of input
    `file`, the first time only (the marker file remembers)."""
    class CrashOnce(RayPredictor):
        def __call__(self, batch):
            if ((batch["file"] == file) & (batch["row"] == row)).any() and \
                    not marker.exists():
                marker.touch()
                os._exit(1)
            return super().__call__(batch)
    return CrashOnce


@pytest.fixture(scope="module")
def mixed_local(workdir, tmp_path_factory):
    files = input_files(workdir / "mixed")
    assert [f.name for f in files] == ["a.csv", "b.jsonl", "c.parquet"]  # sorted, no .hidden
    return local_rows(files, workdir / "my-model", tmp_path_factory.mktemp("local"))


@needs_ray
@pytest.mark.slow
def test_killed_actor_loses_and_duplicates_no_row_then_resume(cluster, workdir, mixed_local,
                                                              tmp_path):
    """Rows numbered across CSV + JSONL + Parquet, small chunks and batches, an actor killed
    mid-run (Ray restarts it and retries the batch): each row exactly once, as the local
    engine labels it. Then an interrupted run's folder is completed by a rerun."""
    marker, out = tmp_path / "crashed", tmp_path / "out"
    res = ray_predict(workdir / "my-model", workdir / "mixed", out, fmt="jsonl", chunk_size=7,
                      batch_size=5, predictor_cls=crash_once(marker, 1, 20))
    assert marker.exists()  # the actor did die mid-run
    assert (res["n"], res["predicted"], res["skipped"]) == (6 + 42 + 35, 83, 0)
    got = read_parts(out, "jsonl")
    assert len(got) == 83 and sorted(got["row"]) == list(range(83))  # each row exactly once
    assert_same_as_local(got, mixed_local)
    first = {p.name: p.read_text() for p in out.iterdir()}
    # an interrupted run: b's part missing (and a temp left behind) -> only b is predicted
    middle = Path(res["parts"][1])
    middle.unlink()
    (out / f".{middle.name}.tmp").write_text('{"row": 6}\n')
    res = ray_predict(workdir / "my-model", workdir / "mixed", out, fmt="jsonl")
    assert (res["n"], res["predicted"], res["skipped"]) == (83, 42, 2)
    assert {p.name: p.read_text() for p in out.iterdir()} == first  # no temp files either


@needs_ray
def test_bad_row_is_named_without_a_traceback(cluster, workdir, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.csv").write_text("text\n" + "\n".join(TEXTS) + "\n")
    (data / "b.csv").write_text("text,id\nfine text,1\n,2\nmore,3\n")
    res = runner.invoke(app, ["predict", str(workdir / "my-model"), "--data", str(data),
                              "--output", str(tmp_path / "out"), "--engine", "ray", "-q"])
    assert res.exit_code == 2
    assert f"{data / 'b.csv'}: column 'text' is empty in row 2 (line 3)" in res.output
    assert "Traceback" not in res.output and "Failed to apply" not in res.output
    assert not list((tmp_path / "out").glob("*b.csv*"))  # no part, no temp for b


@needs_ray
@pytest.mark.slow
def test_readme_ray_data_recipe_runs_as_written(cluster, workdir, monkeypatch):
    code = readme_block("# Ray Data: one model per actor", "python")
    monkeypatch.chdir(workdir)
    exec(compile(code, str(README), "exec"), {})
    got = pd.read_parquet(workdir / "predictions-py").sort_values("id")
    from textune.serving.batch import load_predictor, predict_frame

    texts = pd.concat([pd.read_parquet(p) for p in sorted((workdir / "texts").iterdir())])
    want = predict_frame(texts, load_predictor(workdir / "my-model"))
    assert got["label"].tolist() == want["label"].tolist()
    cols = [f"proba_{c}" for c in sorted(TOPICS)]
    assert np.abs(got[cols].to_numpy() - want[cols].to_numpy()).max() < 1e-5
