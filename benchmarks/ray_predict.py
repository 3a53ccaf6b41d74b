"""`textune predict --engine ray` vs plain `textune predict` on the same texts.

Each run is a fresh `textune predict` process, timed from the outside as a user sees it
(process start to exit: Python and torch import, model load, for Ray also starting a local
cluster and one model per actor). The texts are SST-2 train sentences, repeated in order to
`--n` rows, written to one Parquet file in a temp folder (deleted at the end; no data is kept);
both engines read that same file. The model is a `probe` (MiniLM, frozen) trained with the
CLI on 8 SST-2 sentences per class: prediction cost is the encoder's either way.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ray_predict.py --n 100000 --runs 1

Also runs both engines once on 12 texts: the fixed cost (start-up) of each, which the
throughput figures include. Prints a markdown table and one JSON line; checks that the two
engines gave the same label for every row. Needs the `ray` extra (pip install -e '.[ray]').
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
TEXTUNE = str(Path(sys.executable).with_name("textune"))


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except Exception:  # noqa: BLE001 - machine description only
        return platform.processor() or "unknown"


def make_texts(n: int, folder: Path) -> Path:
    import pandas as pd

    sst2 = pd.read_csv(DATA / "sst2_train.tsv", sep="\t", quoting=3)["sentence"].astype(str)
    texts = [sst2.iloc[i % len(sst2)] for i in range(n)]
    path = folder / f"texts-{n}.parquet"
    pd.DataFrame({"text": texts}).to_parquet(path)
    return path


def train(folder: Path) -> Path:
    model = folder / "model"
    subprocess.run([TEXTUNE, "train", "--data", str(DATA / "sst2_train.tsv"), "--method",
                    "probe", "--shots", "8", "--seed", "0", "--quoting", "none", "--output",
                    str(model), "--quiet"], check=True)
    return model


def run(cmd: list[str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return wall, json.loads(res.stdout.strip().splitlines()[-1])


def local(model: Path, data: Path, out: Path, backend: str):
    return run([TEXTUNE, "predict", str(model), "--data", str(data), "--output", str(out),
                "--backend", backend, "--quiet", "--json"])


def ray(model: Path, data: Path, out: Path, backend: str, actors: int, batch_size: int):
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a complete part would be skipped (resume)
    return run([TEXTUNE, "predict", str(model), "--data", str(data), "--output", str(out),
                "--engine", "ray", "--address", "local", "--actors", str(actors),
                "--batch-size", str(batch_size), "--backend", backend, "--quiet", "--json"])


def same_labels(local_out: Path, ray_out: Path) -> bool:
    import pandas as pd

    want = [json.loads(line)["label"] for line in local_out.read_text().splitlines()]
    got = pd.concat([pd.read_parquet(p) for p in sorted(ray_out.glob("part-*.parquet"))])
    got = got.sort_values("row")
    return got["row"].tolist() == list(range(len(want))) and \
        [str(v) for v in got["label"]] == [str(v) for v in want]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="texts (SST-2 train, repeated)")
    ap.add_argument("--runs", type=int, default=1, help="fresh processes per engine")
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    args = ap.parse_args()
    import ray as ray_module
    import torch

    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="textune-ray-bench-") as tmp:
        tmp = Path(tmp)
        model = train(tmp)
        if args.backend == "onnx":
            subprocess.run([TEXTUNE, "export", str(model), "--output", str(tmp / "onnx"),
                            "--quiet"], check=True)
            model = tmp / "onnx"
        small, data = make_texts(12, tmp), make_texts(args.n, tmp)
        fixed = {"local": local(model, small, tmp / "small.jsonl", args.backend)[0],
                 "ray": ray(model, small, tmp / "small-ray", args.backend, args.actors,
                            args.batch_size)[0]}
        walls: dict[str, list[float]] = {"local": [], "ray": []}
        inner: dict[str, list[float]] = {"local": [], "ray": []}
        for _ in range(args.runs):  # interleaved, so a busy spell hits both
            wall, res = local(model, data, tmp / "local.jsonl", args.backend)
            walls["local"].append(wall)
            inner["local"].append(res["seconds"])
            wall, res = ray(model, data, tmp / "ray", args.backend, args.actors,
                            args.batch_size)
            walls["ray"].append(wall)
            inner["ray"].append(res["seconds"])
        identical = same_labels(tmp / "local.jsonl", tmp / "ray")
    load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in walls.items()}
    tps = {k: args.n / v for k, v in med.items()}
    result = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "n": args.n, "runs": args.runs,
        "cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
        "torch": torch.__version__, "ray": ray_module.__version__, "backend": args.backend,
        "actors": args.actors, "batch_size": args.batch_size,
        "wall_seconds": walls, "inner_seconds": inner, "texts_per_second": tps,
        "ray_over_local_time": med["ray"] / med["local"],
        "startup_seconds_12_texts": fixed, "labels_identical": identical,
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
    }
    print(f"\n{args.n:,} texts, {args.runs} fresh process(es) per engine, medians; "
          f"{result['cpu']}, {result['cores']} cores, torch {torch.__version__}, "
          f"ray {ray_module.__version__}, backend {args.backend}\n")
    print("| engine | wall s (process) | texts/s | start-up s (12 texts) |")
    print("|---|---:|---:|---:|")
    for k, name in (("local", "`textune predict`"),
                    ("ray", f"`--engine ray --actors {args.actors}`")):
        print(f"| {name} | {med[k]:.1f} | {tps[k]:.0f} | {fixed[k]:.1f} |")
    print(f"\nray / local time: {result['ray_over_local_time']:.2f}; labels identical: "
          f"{identical}; load average before/after: {result['load_average_before_after']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
