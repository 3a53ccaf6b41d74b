"""Inference throughput and accuracy on SST-2 test, plus a bounded load test of the server.

Like for like: one textune `setfit` model (MiniLM, N per class, seed 0) is trained and saved;
the `setfit` library baseline is a `setfit.SetFitModel` built from that same saved body and a
scikit-learn `LogisticRegression` carrying the same head weights, so every system computes the
same function and only the inference path differs. Systems, timed in the same process and
interleaved (round-robin repeats, median reported):

- setfit library `SetFitModel.predict` (its default batch_size=32)
- textune torch (`textune predict` path: token-budget batches, inference_mode, all cores)
- textune ONNX fp32 and ONNX int8 (`textune export --format onnx [--quantize int8]`)

Then `textune serve` (ONNX int8 backend) runs as a subprocess on loopback and an asyncio httpx
client sends a fixed number of requests at fixed concurrency: throughput, p50/p99, errors.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/inference.py --shots 8 --repeats 3

Needs the `bench` extra (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import asyncio
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


def train_model(shots: int, seed: int, folder: Path) -> float:
    from textune import TextClassifier, load_examples, sample_per_class

    train = sample_per_class(load_examples(DATA / "sst2_train.tsv"), shots, seed)
    clf = TextClassifier(method="setfit", seed=seed).fit(train)
    clf.save(folder)
    return clf.train_seconds_


def setfit_library_model(folder: Path):
    """The saved textune body + head, as a `setfit.SetFitModel` (same weights)."""
    import numpy as np
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    from setfit import SetFitModel
    from sklearn.linear_model import LogisticRegression

    cfg = json.loads((folder / "textune.json").read_text())
    head = load_file(str(folder / "head.safetensors"))
    lr = LogisticRegression()
    lr.classes_ = np.array(cfg["labels"])
    lr.coef_ = head["coef"].astype(np.float64)
    lr.intercept_ = head["intercept"].astype(np.float64)
    lr.n_features_in_ = lr.coef_.shape[1]
    body = SentenceTransformer(str(folder / "body"), device="cpu")
    return SetFitModel(model_body=body, model_head=lr)


def accuracy(pred, labels) -> float:
    return float(sum(int(p) == int(y) for p, y in zip(pred, labels)) / len(labels))


def bench_systems(folder: Path, texts, labels, repeats: int, workdir: Path) -> dict:
    import torch

    from textune.serving.batch import load_predictor
    from textune.serving.onnx import OnnxClassifier, export_onnx

    t0 = time.perf_counter()
    export_onnx(folder, workdir / "onnx-fp32")
    t_fp32 = time.perf_counter() - t0
    t0 = time.perf_counter()
    export_onnx(folder, workdir / "onnx-int8", quantize="int8")
    t_int8 = time.perf_counter() - t0

    lib = setfit_library_model(folder)
    torch_pred = load_predictor(folder, "torch")
    fp32 = OnnxClassifier.load(workdir / "onnx-fp32")
    int8 = OnnxClassifier.load(workdir / "onnx-int8")
    systems = {
        "setfit library predict": lambda x: lib.predict(x, as_numpy=True),
        "textune torch": lambda x: torch_pred.classes_[torch_pred.predict_proba(x).argmax(1)],
        "textune ONNX fp32": lambda x: fp32.predict(x),
        "textune ONNX int8": lambda x: int8.predict(x),
    }
    times = {k: [] for k in systems}
    preds = {}
    for f in systems.values():  # warm-up: first-call allocations, lazy init
        f(texts[:64])
    for _ in range(repeats):
        for name, f in systems.items():
            t = time.perf_counter()
            preds[name] = f(texts)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["setfit library predict"])
    out = {}
    for name in systems:
        med = statistics.median(times[name])
        out[name] = {"sentences_per_s": round(len(texts) / med, 1),
                     "seconds": round(med, 3), "speedup": round(base / med, 2),
                     "accuracy": round(accuracy(preds[name], labels), 4)}
    out["_export_seconds"] = {"fp32": round(t_fp32, 1), "int8": round(t_int8, 1)}
    out["_threads"] = torch.get_num_threads()
    out["_sizes_mb"] = {k: round((workdir / k / "model.onnx").stat().st_size / 2**20, 1)
                        for k in ("onnx-fp32", "onnx-int8")}
    return out


async def _load(url: str, batches, concurrency: int, key: str) -> dict:
    import httpx

    lat, errors = [], 0
    queue = list(enumerate(batches))

    async def worker(client):
        nonlocal errors
        while queue:
            _, batch = queue.pop()
            t = time.perf_counter()
            try:
                r = await client.post("/v1/classify", json={"texts": batch})
                ok = r.status_code == 200 and len(r.json()) == len(batch)
            except httpx.HTTPError:
                ok = False
            lat.append(time.perf_counter() - t)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 headers={"X-API-Key": key}) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    lat.sort()
    n_texts = sum(len(b) for b in batches)
    return {"requests": len(batches), "texts": n_texts, "concurrency": concurrency,
            "seconds": round(wall, 2), "requests_per_s": round(len(batches) / wall, 1),
            "texts_per_s": round(n_texts / wall, 1),
            "p50_ms": round(1000 * lat[len(lat) // 2], 1),
            "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
            "errors": errors}


def load_test(model: Path, backend: str, texts, n_requests: int, per_request: int,
              concurrency: int) -> dict:
    key = "bench-key"
    env = {**os.environ, "TEXTUNE_API_KEY": key}
    proc = subprocess.Popen([sys.executable, "-m", "textune", "serve", str(model), "--port",
                             "0", "--backend", backend, "--quiet"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        url = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and url is None:
            line = proc.stderr.readline()
            if not line:
                break
            if "serving" in line and "http://" in line:
                url = "http://" + line.split("http://")[1].split()[0]
        if url is None:
            raise RuntimeError("server did not start")
        batches = [[texts[(i * per_request + j) % len(texts)] for j in range(per_request)]
                   for i in range(n_requests)]
        asyncio.run(_load(url, batches[:concurrency], concurrency, key))  # warm-up
        res = asyncio.run(_load(url, batches, concurrency, key))
        res["backend"] = backend
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--per-request", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    from textune import load_examples

    test = load_examples(DATA / "sst2_test.tsv")
    with tempfile.TemporaryDirectory(prefix="textune-bench-") as tmp:
        work = Path(tmp)
        train_s = train_model(args.shots, args.seed, work / "model")
        systems = bench_systems(work / "model", test.texts, test.labels, args.repeats, work)
        serving = [load_test(work / "onnx-int8", "onnx", test.texts, args.requests,
                             args.per_request, args.concurrency),
                   load_test(work / "model", "torch", test.texts, args.requests,
                             args.per_request, args.concurrency)]
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
              "n_test": len(test), "shots": args.shots, "seed": args.seed,
              "train_seconds": round(train_s, 1), "systems": systems, "serving": serving}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "inference.json").write_text(json.dumps(result, indent=2))
    print("| system | sentences/s | × setfit | accuracy |\n|---|---:|---:|---:|")
    for name, r in systems.items():
        if not name.startswith("_"):
            print(f"| {name} | {r['sentences_per_s']} | {r['speedup']} | {r['accuracy']:.4f} |")
    print("\n| server backend | requests | concurrency | req/s | texts/s | p50 ms | p99 ms | "
          "errors |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in serving:
        print(f"| {s['backend']} | {s['requests']} × {args.per_request} texts | "
              f"{s['concurrency']} | {s['requests_per_s']} | {s['texts_per_s']} | "
              f"{s['p50_ms']} | {s['p99_ms']} | {s['errors']} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
