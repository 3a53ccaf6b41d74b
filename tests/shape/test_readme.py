"""The README is a front door: short, its links resolve, every figure it quotes is in
docs/benchmarks.md, and its Quickstart runs as written from a fresh clone after `make demo`.

The Quickstart runs in a scratch folder holding only what a clone ships that it reads
(`examples/data/`), so no `../shared` is beside it. There, `.venv/bin/activate` is a stand-in
that puts this interpreter's folder (the environment `make demo` made, or the test's own)
first on PATH, and the serve block's port 8000 is swapped for a free one, so a server left
running elsewhere on the machine cannot answer in its place. Nothing else is changed."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def section(text: str, title: str) -> str:
    """The `## title` section of a Markdown text, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def prose(text: str) -> str:
    """The text without code blocks, inline code and link targets."""
    text = FENCE.sub("", text)
    text = re.sub(r"`[^`]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def test_the_readme_is_a_short_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for title in ("Install", "Quickstart", "What else is there"):
        section(text, title)


def test_the_quickstart_needs_nothing_a_clone_does_not_ship():
    blocks = code_blocks(section(README.read_text(encoding="utf-8"), "Quickstart"))
    assert [lang for lang, _ in blocks] == ["bash", "bash", "python"]
    for _, code in blocks:
        assert "../shared" not in code
        for path in re.findall(r"examples/data/[\w.]+", code):
            assert (ROOT / path).is_file(), path


def test_every_readme_link_resolves():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert targets
    for target in targets:
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README.md links to a missing {target}"


def test_every_figure_in_the_readme_is_in_the_benchmarks_page():
    """Decimals (0.733, 3.04 s) and speed-ups (10.2×) outside code; Python versions aside."""
    text = prose(README.read_text(encoding="utf-8"))
    figures = re.findall(r"(?<!Python ≥ )(?<![\w.-])(\d+\.\d+×?)", text)
    assert len(figures) >= 5, figures
    page = BENCHMARKS.read_text(encoding="utf-8")
    missing = [f for f in figures if f not in page]
    assert not missing, f"README figures not in docs/benchmarks.md: {missing}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_quickstart_runs_as_written_from_a_fresh_clone(tmp_path):
    blocks = code_blocks(section(README.read_text(encoding="utf-8"), "Quickstart"))
    shutil.copytree(ROOT / "examples" / "data", tmp_path / "examples" / "data")
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "textune").exists(), f"no textune command beside {sys.executable}"
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text(f'export PATH="{venv_bin}:$PATH"\n')
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src")] + [
               p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}

    # the shell blocks, in order, in one shell, as a reader pastes them into one terminal
    port = str(_free_port())
    script = "set -euo pipefail\n" + "".join(code for lang, code in blocks if lang == "bash")
    script = script.replace("--port 8000", f"--port {port}").replace(":8000/", f":{port}/")
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("w") as o, err.open("w") as e:  # files, not pipes: a stray server keeps a pipe
        shell = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, stdout=o,
                                 stderr=e, text=True, start_new_session=True)
        try:
            returncode = shell.wait(timeout=1200)
        finally:  # a failed block leaves `textune serve` running in the shell's session
            try:
                os.killpg(shell.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    stdout = out.read_text()
    assert returncode == 0, stdout[-3000:] + err.read_text()[-3000:]
    assert "accuracy" in stdout and "macro-F1" in stdout, stdout
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all('"label"' in line for line in lines)
    # the curl answer: one prediction, a label among the four classes
    assert re.search(r'\[\{"label":"(shipping|billing|bug|account)","probabilities"', stdout)

    for code in (code for lang, code in blocks if lang == "python"):
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        accuracy, labels = r.stdout.strip().splitlines()[-2:]
        assert 0.5 <= float(accuracy) <= 1.0  # 4 classes: chance is 0.25
        assert labels.startswith("[") and "shipping" in labels
    assert (tmp_path / "tickets-model-py" / "textune.json").is_file()
