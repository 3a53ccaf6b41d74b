"""`accelerate launch --num_processes 2` on CPU (gloo): the same training code runs
data-parallel with no change, and every process ends with the same weights."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from accelerate import PartialState
from textune import TextClassifier
pos = ["a wonderful, moving film", "brilliant acting and a great story",
       "i loved every minute of it", "funny, warm and beautifully made"]
neg = ["a dull, tedious mess", "terrible acting and a boring plot",
       "i hated every minute of it", "lazy, clumsy and badly made"]
method, out = sys.argv[1], sys.argv[2]
steps = {"steps": 6} if method == "setfit" else {}  # finetune reads no contrastive steps
clf = TextClassifier(method=method, epochs=2, seed=0, **steps).fit(pos + neg, ["p"] * 4 + ["n"] * 4)
state = PartialState()
proba = clf.predict_proba(pos + neg).round(5).tolist()
with open(f"{out}/rank{state.process_index}.json", "w") as f:
    json.dump({"world": state.num_processes, "proba": proba,
               "procs": clf.fit_stats_.get("num_processes")}, f)
clf.save(f"{out}/model")
"""


@pytest.mark.parametrize("method", ["finetune", "setfit"])
def test_accelerate_launch_two_cpu_processes(method, tmp_path):
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if launcher is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    # --multi_gpu selects the torchrun launcher; with no GPU each process runs on CPU (gloo)
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no",
           str(script), method, str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    if method == "finetune":
        assert ranks[0]["procs"] == 2
    assert ranks[0]["proba"] == ranks[1]["proba"]  # DDP kept the replicas identical
    assert (tmp_path / "model" / "textune.json").is_file()
