"""The docs site: every `textune` command its code blocks show names a real command and real
options, its Python blocks parse, the CLI reference is generated from the typer app, and
(slow tier) `mkdocs build --strict` builds the whole site, API reference included.

The blocks are also run (slow tier): the ONNX and transformers blocks below, the rest in
tests/shape/test_docs_run.py, whose `BLOCKS` names, for every block, the test that runs it
or why none can (installing, a benchmark, a second machine)."""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang: str):
    for page in PAGES:
        for m in FENCE.finditer(page.read_text(encoding="utf-8")):
            if m.group(1) == lang:
                yield page.relative_to(ROOT), m.group(2)


def cli_options() -> dict[str, set[str]]:
    """Every command's option spellings, hidden aliases included."""
    import typer.main

    from textune.cli import app

    group = typer.main.get_command(app)
    return {name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)
                   if o.startswith("-")} | {"--help"}
            for name, cmd in group.commands.items()}


def textune_commands(code: str):
    """Each `textune ...` command in a shell block, as tokens (line continuations joined,
    comments dropped, split at ;, &&, || and |)."""
    code = code.replace("\\\n", " ")
    for line in code.splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # an unbalanced quote in a comment's prose
            tokens = shlex.split(line.split("#")[0], comments=True)
        command: list[str] = []
        for token in tokens + [";"]:
            if token in {";", "&&", "||", "|", "&"}:
                if command and command[0] == "textune":
                    yield command
                command = []
            else:
                command.append(token.rstrip("&;"))


def test_every_textune_command_in_the_docs_exists_with_its_options():
    options = cli_options()
    seen = 0
    for page, code in blocks("bash"):
        for command in textune_commands(code):
            seen += 1
            assert len(command) > 1 and command[1] in options, f"{page}: {shlex.join(command)}"
            name = command[1]
            for token in command[2:]:
                flag = token.split("=")[0]
                if re.fullmatch(r"--?[a-zA-Z][\w-]*", flag):
                    assert flag in options[name], (
                        f"{page}: `textune {name}` has no option {flag}: {shlex.join(command)}")
    assert seen >= 30  # the guides show the CLI; a parsing slip would silently check nothing


def test_every_python_block_in_the_docs_parses():
    count = 0
    for page, code in blocks("python"):
        compile(code, str(page), "exec")
        count += 1
    assert count >= 10


def _hook():
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "docs" / "hooks" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_generated_from_the_app():
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install "
                        "'textune[docs]' (make test-all installs it)")
    hook = _hook()
    text = hook.cli_markdown()
    for name, opts in cli_options().items():
        assert f"## `textune {name}`" in text, name
    assert "## `textune train`" in text and "`--shots <int" in text
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert hook.MARKER in page and "--shots" not in page  # written by the build, not by hand


@pytest.mark.slow
def test_the_docs_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install "
                        "'textune[docs]' (make test-all installs it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                               if p])}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    site = tmp_path / "site"
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "textune compare" in cli and "--eval-data" in cli
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="textune.classifier.TextClassifier.fit"' in api
    started = (site / "getting-started" / "index.html").read_text(encoding="utf-8")
    assert "tickets_train.csv" in started  # the README's Quickstart, included
    assert "0.1.0" in (site / "changelog" / "index.html").read_text(encoding="utf-8")


def block(page: str, marker: str, lang: str) -> str:
    """The one ```lang block of docs/`page` that contains `marker`."""
    found = [code for p, code in blocks(lang) if p == Path("docs", page) and marker in code]
    assert len(found) == 1, f"docs/{page}: one ```{lang} block with {marker!r}"
    return found[0]


@pytest.fixture
def ticket_models(tiny_backbone, tmp_path, monkeypatch):
    """A scratch folder with the models and files the guides name, trained on the ticket
    data on the tiny backbone (these blocks check paths, not accuracy): my-model (probe),
    my-setfit (probe: a body/ folder like setfit's), my-finetune, and new.csv."""
    from textune import TextClassifier, load_examples

    train = load_examples(ROOT / "examples" / "data" / "tickets_train.csv")
    TextClassifier(method="probe", model=tiny_backbone).fit(train).save(tmp_path / "my-model")
    TextClassifier(method="probe", model=tiny_backbone).fit(train).save(tmp_path / "my-setfit")
    TextClassifier(method="finetune", model=tiny_backbone, epochs=1).fit(train).save(
        tmp_path / "my-finetune")
    (tmp_path / "new.csv").write_text(
        (ROOT / "examples" / "data" / "tickets_new.csv").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_the_onnx_blocks_of_the_serving_guide_run_as_written(ticket_models):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src")] + [
               p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    shell = block("guides/predict-serve.md", "textune export my-model --format onnx", "bash")
    r = subprocess.run(["bash", "-c", "set -euo pipefail\n" + shell], cwd=ticket_models,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert len((ticket_models / "predictions.jsonl").read_text().splitlines()) == 4

    code = block("guides/predict-serve.md", "OnnxClassifier.load", "python")
    scope: dict = {}
    exec(compile(code, "docs/guides/predict-serve.md", "exec"), scope)
    assert scope["clf"].predict(["a wonderful film"])[0] in {"shipping", "billing", "bug",
                                                            "account"}


@pytest.mark.slow
def test_the_saved_model_opens_in_transformers_as_the_guide_shows(ticket_models):
    from textune import TextClassifier

    code = block("guides/saved-model.md", "pipeline(", "python")
    scope: dict = {}
    exec(compile(code, "docs/guides/saved-model.md", "exec"), scope)
    scores = scope["classify"]("Shares fell sharply", truncation=True)
    scores = scores[0] if isinstance(scores[0], list) else scores
    want = TextClassifier.load("my-finetune").predict_proba(["Shares fell sharply"])[0]
    labels = TextClassifier.load("my-finetune").classes_
    got = {s["label"]: s["score"] for s in scores}
    assert set(got) == set(labels)
    assert max(abs(got[label] - p) for label, p in zip(labels, want)) < 1e-4
    assert scope["body"].encode(["Shares fell sharply"]).shape[1] > 0
