"""The soak benchmark's short run (issue 31): `benchmarks/soak.py` for 5 minutes against a
served tiny-backbone model, held to the 30-minute run's rules on memory growth and errors.
Latency targets are the long run's alone: absolute latency belongs to the machine, and the
CI machine is shared."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.helpers import TOPICS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skip(reason="known failure, issue 31 open: on 2 idle cores (2026-12-08) the "
                  "server's RSS grew 7.4% and 15.2% over two 5-minute runs (target <= 5%; "
                  "0 errors in both); malloc_trim did not stop it. Remove this mark to run it "
                  "while fixing; benchmarks/soak.py runs the same check by hand")
def test_five_minute_soak_keeps_memory_flat_and_answers_every_request(tiny_backbone, tmp_path):
    pytest.importorskip("psutil")
    pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from textune import TextClassifier

    texts = [t for rows in zip(*TOPICS.values()) for t in rows]
    labels = [y for _ in range(6) for y in TOPICS]
    TextClassifier(method="probe", model=tiny_backbone).fit(texts, labels).save(tmp_path / "m")
    out = tmp_path / "soak"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--model", str(tmp_path / "m"),
         "--minutes", "5", "--capacity-seconds", "20", "--burst-seconds", "10",
         "--recovery-seconds", "30", "--output", str(out), "--enforce", "rss_growth,errors"],
        capture_output=True, text=True, timeout=20 * 60, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    tail = (run.stdout + run.stderr)[-3000:]
    assert (out / "soak.json").exists(), f"no results ({run.returncode}):\n{tail}"
    res = json.loads((out / "soak.json").read_text())

    assert res["targets"]["rss_growth"]["met"], res["rss"]
    assert res["errors"] == dict.fromkeys(res["errors"], 0) and not res["unexpected"], \
        (res["errors"], res["unexpected"], res["transport_examples"])
    assert res["server_exit_code"] == 0  # SIGTERM after the run drains and exits cleanly
    assert run.returncode == 0, f"soak failed ({run.returncode}): {res['targets']}\n{tail}"
    # the run was the issue's: five steady minutes of every kind of request, then a burst
    assert [m["minute"] for m in res["minutes"]] == [1, 2, 3, 4, 5]
    assert all(m["requests"] > 0 and m["errors"] == 0 for m in res["minutes"])
    assert res["phases"]["burst"]["requests"] > res["phases"]["steady"]["requests"] / 300 * 10
    kinds = {line.split(",")[4] for line in (out / "requests.csv").read_text().splitlines()[1:]}
    assert {"single", "batch", "hf", "predict", "bad:empty_text", "bad:malformed_json",
            "bad:too_many_texts", "bad:text_too_long", "bad:wrong_field"} <= kinds, kinds
