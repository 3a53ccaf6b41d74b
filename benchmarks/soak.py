"""Soak benchmark of `textune serve`: steady load for a long time, then a burst, then recovery.

`textune serve MODEL` runs as a subprocess on 127.0.0.1 (a free port) and an asyncio httpx
client drives it; loopback only, bounded in time (every phase has a fixed length and the whole
run a hard deadline) and in count (at most `--max-in-flight` requests outstanding).

0. Warm-up: the largest request the limits allow (`max_texts` long texts), then two of
   each kind, so the server's memory has seen its biggest tensors before any baseline.
1. Capacity: a closed loop (`--capacity-concurrency` clients, `--capacity-seconds`) of the
   same traffic mix; capacity = answered requests per second, 503s not counted.
2. Steady: open-loop Poisson arrivals at `--rate-fraction` (0.8) of capacity for `--minutes`.
3. Burst: `--burst-factor` (3x) capacity for `--burst-seconds`.
4. Recovery: back to the steady rate for `--recovery-seconds`; recovered at the arrival of
   the first of `HEALTHY_RUN` consecutive requests that all got their answer (no 503) within
   the steady phase's p99 latency (at steady state 10 in a row do, 9 times in 10).

Traffic: single texts and batches up to the server's `max_texts` (pairs when the model reads
pairs), on /v1/classify and the Hugging Face routes, short support tickets and long texts;
5% bad requests of several kinds (empty text, malformed JSON, too many texts, text too long,
wrong field), each of which must get its own 4xx. Latency runs from the scheduled arrival, so
a client falling behind shows up in it instead of hiding (no coordinated omission). The
server's RSS (with children), CPU, threads and open files are sampled every `--sample-seconds`.

Targets (issue 31): RSS growth after warm-up <= 5%, p99 flat within 20% minute to minute,
no 5xx other than 503, recovery <= 5 s. Errors also count: transport errors and timeouts, a
good request answered other than 200/503, a bad one answered other than its 4xx, a traceback
in the server's log. Exit status 1 when an `--enforce`d target fails (the slow test enforces
rss_growth and errors only: absolute latency depends on the machine).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/soak.py --minutes 30

Without `--model`, a probe on real MiniLM is trained on the README's support tickets (serving
cost is MiniLM's forward pass, the same as a setfit model's). Writes soak.json, soak.png
(matplotlib), requests.csv (one row per request) and server.log to `--output`
(benchmarks/results/soak), and prints the markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
TICKETS = [ROOT / "examples" / "data" / f"tickets_{part}.csv"
           for part in ("train", "test", "new")]
TARGETS = {"rss_growth": 0.05, "p99_flat": 0.20, "recovery_s": 5.0}  # errors: 0
BAD_SHARE = 0.05
HEALTHY_RUN = 10  # consecutive healthy requests that mark the end of recovery
MIN_CAPACITY_REQUESTS = 50  # fewer answered while measuring capacity: a noisy estimate

log = logging.getLogger("soak")
TRANSPORT_EXAMPLES: list[str] = []


# --- traffic -----------------------------------------------------------------------------

@dataclass
class Request:
    kind: str
    path: str
    body: bytes
    n_texts: int
    expect: int  # 200, or the 4xx a bad request must get


def ticket_texts() -> list[str]:
    texts = []
    for path in TICKETS:
        with path.open(newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    return texts


class Traffic:
    """A fixed, seeded pool of pre-encoded requests in the issue's mix; `draw` picks one."""

    def __init__(self, texts: list[str], *, max_texts: int, max_chars: int, pairs: bool,
                 seed: int = 0, size: int = 3000):
        self.rng = random.Random(seed)
        self.texts, self.pairs = texts, pairs
        self.max_texts, self.max_chars = max_texts, max_chars
        self.pool = [self._make() for _ in range(size)]

    def draw(self, rng: random.Random) -> Request:
        return rng.choice(self.pool)

    def _text(self) -> str:
        r = self.rng
        if r.random() < 0.1:  # a long text: several tickets run together (truncated by the model)
            long = " ".join(r.choice(self.texts) for _ in range(r.randint(6, 24)))
            return long[:self.max_chars]
        return r.choice(self.texts)

    def _batch_size(self) -> int:
        r = self.rng
        if r.random() < 0.05:
            return self.max_texts  # at the limit
        size = math.exp(r.uniform(math.log(2), math.log(self.max_texts + 1)))  # log-uniform
        return min(self.max_texts, int(size))

    def _make(self) -> Request:
        r = self.rng
        u = r.random()
        if u < BAD_SHARE:
            return self._bad(r.choice(["empty_text", "malformed_json", "too_many_texts",
                                       "text_too_long", "wrong_field"]))
        single = u < BAD_SHARE + 0.55
        texts = [self._text() for _ in range(1 if single else self._batch_size())]
        pairs = [self._text() for _ in texts] if self.pairs else None
        v = r.random()
        if v < 0.1:  # the TEI shape
            inputs = [[t] for t in texts] if pairs is None else [[t, p] for t, p in
                                                                  zip(texts, pairs)]
            return self._good("predict", "/predict", {"inputs": inputs}, len(texts))
        if v < 0.2 and pairs is None:  # the Inference API shape (single texts only)
            return self._good("hf", "/", {"inputs": texts}, len(texts))
        body = {"texts": texts} if pairs is None else {"texts": texts, "text_pairs": pairs}
        return self._good("single" if single else "batch", "/v1/classify", body, len(texts))

    def largest(self) -> Request:
        """The most work one request may carry: `max_texts` long texts (pairs)."""
        texts = [" ".join(self.texts)[:self.max_chars] for _ in range(self.max_texts)]
        body = {"texts": texts, "text_pairs": texts} if self.pairs else {"texts": texts}
        return self._good("largest", "/v1/classify", body, len(texts))

    @staticmethod
    def _good(kind: str, path: str, body: dict, n: int) -> Request:
        return Request(kind, path, json.dumps(body).encode(), n, 200)

    def _bad(self, kind: str) -> Request:
        t = self.rng.choice(self.texts)
        body, expect = {
            "empty_text": ({"texts": [t, "  "]}, 422),
            "malformed_json": (None, 400),
            "too_many_texts": ({"texts": [t] * (self.max_texts + 1)}, 413),
            "text_too_long": ({"texts": ["x" * (self.max_chars + 1)]}, 413),
            "wrong_field": ({"text": [t]}, 422),
        }[kind]
        raw = b'{"texts": ["unterminated' if body is None else json.dumps(body).encode()
        return Request("bad:" + kind, "/v1/classify", raw, 0, expect)


# --- the load generator ------------------------------------------------------------------

@dataclass
class Record:
    phase: str
    t: float  # scheduled arrival, seconds since the run began
    latency: float
    status: object  # HTTP status, or "timeout" / "transport" / "bad_answer"
    kind: str
    expect: int


async def send(client, req: Request, t_sched: float, t0: float, phase: str) -> Record:
    import httpx

    try:
        r = await client.post(req.path, content=req.body,
                              headers={"Content-Type": "application/json"})
        status = r.status_code
        if status == 200 and len(r.json()) != req.n_texts:  # one answer per text, every route
            status = "bad_answer"
    except httpx.TimeoutException:
        status = "timeout"
    except httpx.HTTPError as e:  # which one says whose fault it was
        status = f"transport:{type(e).__name__}"
        if len(TRANSPORT_EXAMPLES) < 5:  # the OS error under it: a reset, an EOF, ...
            TRANSPORT_EXAMPLES.append(f"{req.kind} at {t_sched - t0:.1f} s: {e!r} <- "
                                      f"{e.__context__!r}")
    return Record(phase, t_sched - t0, time.monotonic() - t_sched, status, req.kind, req.expect)


async def warm_up(client, traffic: Traffic, t0: float) -> list[Record]:
    """The largest request, twice, then two of every kind in the pool: the server's memory
    reaches the high-water mark of its biggest tensors before the baseline is taken, so
    growth after it is growth, not a first large batch."""
    records = [await send(client, traffic.largest(), time.monotonic(), t0, "warm-up")
               for _ in range(2)]
    seen: dict[str, int] = {}
    for req in traffic.pool:
        if seen.get(req.kind, 0) < 2:
            seen[req.kind] = seen.get(req.kind, 0) + 1
            records.append(await send(client, req, time.monotonic(), t0, "warm-up"))
    return records


async def closed_loop(client, traffic: Traffic, seconds: float, concurrency: int,
                      t0: float) -> tuple[float, list[Record]]:
    """Answered requests per second (503s excluded) with `concurrency` clients back to back,
    counted after the first fifth of the time (the server's first batches of each shape)."""
    start = time.monotonic()
    end, warm = start + seconds, start + seconds / 5
    records: list[Record] = []

    async def worker(seed: int):
        rng = random.Random(seed)
        while time.monotonic() < end:
            records.append(await send(client, traffic.draw(rng), time.monotonic(), t0, "capacity"))

    await asyncio.gather(*(worker(1000 + i) for i in range(concurrency)))
    done = [r for r in records if r.status != 503 and isinstance(r.status, int)
            and warm - t0 <= r.t + r.latency <= end - t0]
    return len(done) / (end - warm), records


async def open_loop(client, traffic: Traffic, phases: list[tuple[str, float, float]], t0: float,
                    start: float, max_in_flight: int,
                    seed: int) -> tuple[list[Record], int, float]:
    """Poisson arrivals at each phase's rate for its duration, none waiting for another;
    returns the records, the arrivals dropped at the in-flight cap and the worst lateness."""
    rng = random.Random(seed)
    records: list[Record] = []
    tasks: set[asyncio.Task] = set()
    overflow, late = 0, 0.0
    t = start
    for phase, rate, seconds in phases:
        end = t + seconds
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                t = end
                break
            now = time.monotonic()
            if t > now:
                await asyncio.sleep(t - now)
            else:
                late = max(late, now - t)
            if len(tasks) >= max_in_flight:
                overflow += 1
                continue
            task = asyncio.create_task(send(client, traffic.draw(rng), t, t0, phase))
            task.add_done_callback(lambda f: (tasks.discard(f), f.cancelled()
                                              or records.append(f.result())))
            tasks.add(task)
    while tasks:
        await asyncio.gather(*list(tasks))
    return records, overflow, late


# --- the server and its resources --------------------------------------------------------

def start_server(model: str, serve_args: list[str], log_path: Path,
                 timeout: float = 300) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "textune", "serve", model, "--port", "0", "--quiet", *serve_args]
    log.info("starting %s", " ".join(cmd))
    out = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"on (http://\S+)", log_path.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}); see {log_path}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not bind in {timeout:.0f} s; see {log_path}")


def stop_server(proc: subprocess.Popen) -> int:
    proc.terminate()  # SIGTERM: drain, exit 0
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Sampler(threading.Thread):
    """The server's RSS (with children), CPU %, threads and open files every `every` s."""

    def __init__(self, pid: int, every: float, t0: float):
        super().__init__(daemon=True)
        import psutil

        self.proc, self.every, self.t0 = psutil.Process(pid), every, t0
        self.client = psutil.Process()  # this process: a saturated client skews the figures
        self.samples: list[dict] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        self.proc.cpu_percent()
        self.client.cpu_percent()
        while True:
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
                self.samples.append({"t": round(time.monotonic() - self.t0, 2),
                                     "rss_mb": round(rss / 2**20, 1),
                                     "cpu_pct": self.proc.cpu_percent(),
                                     "client_cpu_pct": self.client.cpu_percent(),
                                     "threads": self.proc.num_threads(),
                                     "fds": self.proc.num_fds()})
            except psutil.Error:
                return
            if self.stopped.wait(self.every):
                return


# --- results ------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def ms(x: float | None) -> float | None:
    return None if x is None else round(1000 * x, 1)


def outcome(r: Record) -> str:
    """ok / 503 / error, by what the request expected."""
    if r.expect == 200:
        return "ok" if r.status == 200 else "503" if r.status == 503 else "error"
    return "ok" if r.status == r.expect else "error"


def summarize(records: list[Record], samples: list[dict], bounds: dict, capacity: float,
              warmup_minutes: int, log_text: str) -> dict:
    steady = [r for r in records if r.phase == "steady"]
    good = [r for r in steady if r.expect == 200 and r.status == 200]
    s0 = bounds["steady"][0]
    n_min = max(1, int((bounds["steady"][1] - s0) / 60 + 1e-6))  # whole minutes
    minutes = []
    for m in range(n_min):
        rs = [r for r in steady if s0 + 60 * m <= r.t < s0 + 60 * (m + 1)]
        lat = [r.latency for r in rs if r.expect == 200 and r.status == 200]
        rss = [s["rss_mb"] for s in samples if s0 + 60 * m <= s["t"] < s0 + 60 * (m + 1)]
        minutes.append({"minute": m + 1, "requests": len(rs), "p50_ms": ms(pct(lat, 0.5)),
                        "p99_ms": ms(pct(lat, 0.99)),
                        "n503": sum(outcome(r) == "503" for r in rs),
                        "errors": sum(outcome(r) == "error" for r in rs),
                        "rss_mb": round(statistics.mean(rss), 1) if rss else None})

    # RSS: the warm-up's last minute against the steady phase's last minute
    after = minutes[warmup_minutes:] if len(minutes) > warmup_minutes else minutes[-1:]
    base = minutes[min(warmup_minutes, len(minutes)) - 1]["rss_mb"]
    end_rss = minutes[-1]["rss_mb"]
    growth = None if len(minutes) <= warmup_minutes or not base or end_rss is None \
        else end_rss / base - 1  # nothing to compare within the warm-up alone
    late = [s for s in samples if bounds["steady"][0] + 60 * warmup_minutes <= s["t"]
            <= bounds["steady"][1]]
    slope = _slope([(s["t"] / 3600, s["rss_mb"]) for s in late])
    p99s = [m["p99_ms"] for m in after if m["p99_ms"]]
    flat = max((abs(b / a - 1) for a, b in zip(p99s, p99s[1:])), default=None)

    steady_p99 = pct([r.latency for r in good], 0.99)
    burst = [r for r in records if r.phase == "burst"]
    recovery = _recovery([r for r in records if r.phase == "recovery"], bounds["burst"][1],
                         bounds["recovery"][1], steady_p99)

    errors = {"5xx_not_503": 0, "timeout": 0, "transport": 0, "bad_answer": 0,
              "unexpected_status": 0}
    unexpected: dict[str, int] = {}
    for r in records:
        if outcome(r) != "error":
            continue
        if isinstance(r.status, str):
            errors[r.status.split(":")[0]] += 1
        elif r.status >= 500:
            errors["5xx_not_503"] += 1
        else:
            errors["unexpected_status"] += 1
        key = f"{r.kind} -> {r.status}"
        unexpected[key] = unexpected.get(key, 0) + 1
    errors["tracebacks_in_server_log"] = log_text.count("Traceback")

    by_phase = {}
    for phase in ("warm-up", "capacity", "steady", "burst", "recovery"):
        rs = [r for r in records if r.phase == phase]
        lat = [r.latency for r in rs if r.expect == 200 and r.status == 200]
        by_phase[phase] = {"requests": len(rs), "ok": sum(outcome(r) == "ok" for r in rs),
                           "n503": sum(outcome(r) == "503" for r in rs),
                           "errors": sum(outcome(r) == "error" for r in rs),
                           "p50_ms": ms(pct(lat, 0.5)), "p99_ms": ms(pct(lat, 0.99)),
                           "max_ms": ms(max(lat, default=None))}
    return {
        "capacity_rps": round(capacity, 2), "minutes": minutes, "phases": by_phase,
        "rss": {"baseline_mb": base, "end_mb": end_rss,
                "growth": None if growth is None else round(growth, 4),
                "peak_after_warmup_mb": max((s["rss_mb"] for s in late), default=None),
                "slope_mb_per_hour": None if slope is None else round(slope, 1),
                "max_mb": max((s["rss_mb"] for s in samples), default=None)},
        "p99_flat": None if flat is None else round(flat, 3),
        "steady_p99_ms": ms(steady_p99), "recovery": recovery,
        "errors": errors, "unexpected": unexpected,
    }


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares MiB per hour; None over less than 2 minutes (a slope of noise)."""
    if len(points) < 3 or points[-1][0] - points[0][0] < 2 / 60:
        return None
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else None


def _recovery(records: list[Record], start: float, end: float, steady_p99: float | None) -> dict:
    """Seconds from the burst's end to the arrival of the first of `HEALTHY_RUN` consecutive
    healthy requests (answered as expected, not 503, within the steady p99); None when the
    window ends first. Counted in requests, not time bins, so a low rate cannot pass on empty
    bins. Also when the last 503 came."""
    rs = sorted(records, key=lambda r: r.t)
    healthy = [outcome(r) == "ok" and (steady_p99 is None or r.latency <= steady_p99)
               for r in rs]
    first = next((i for i in range(len(rs) - HEALTHY_RUN + 1)
                  if all(healthy[i:i + HEALTHY_RUN])), None)
    last_503 = max((r.t - start for r in rs if r.status == 503), default=None)
    return {"seconds": None if first is None else round(max(0.0, rs[first].t - start), 1),
            "last_503_s": None if last_503 is None else round(last_503, 1),
            "window_s": round(end - start)}


def check_targets(s: dict) -> dict:
    e = sum(s["errors"].values())
    rec = s["recovery"]["seconds"]
    return {
        "rss_growth": {"value": s["rss"]["growth"], "limit": TARGETS["rss_growth"],
                       "met": s["rss"]["growth"] is not None
                       and s["rss"]["growth"] <= TARGETS["rss_growth"]},
        "p99_flat": {"value": s["p99_flat"], "limit": TARGETS["p99_flat"],
                     "met": s["p99_flat"] is not None and s["p99_flat"] <= TARGETS["p99_flat"]},
        "errors": {"value": e, "limit": 0, "met": e == 0},
        "recovery_s": {"value": rec, "limit": TARGETS["recovery_s"],
                       "met": rec is not None and rec <= TARGETS["recovery_s"]},
    }


# --- output -------------------------------------------------------------------------------

def plot(res: dict, records: list[Record], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot")
        return False
    s0 = res["bounds"]["steady"][0]
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    xs = [(s["t"] - s0) / 60 for s in res["samples"]]
    a1.plot(xs, [s["rss_mb"] for s in res["samples"]], ".-", color="tab:blue")
    a1.set_ylabel("server RSS (MiB)")
    a1.set_ylim(bottom=0)
    step = 10.0
    bins: dict[int, list[float]] = {}
    for r in records:
        if r.expect == 200 and r.status == 200:
            bins.setdefault(int((r.t - s0) // step), []).append(r.latency)
    keys = sorted(bins)
    bx = [(k + 0.5) * step / 60 for k in keys]
    a2.plot(bx, [1000 * pct(bins[k], 0.5) for k in keys], label="p50")
    a2.plot(bx, [1000 * pct(bins[k], 0.99) for k in keys], label="p99")
    a2.set_yscale("log")
    a2.set_ylabel(f"latency per {step:.0f} s (ms)")
    a2.legend(loc="upper left")
    per_s: dict[str, dict[int, int]] = {"200": {}, "503": {}, "4xx or other": {}}
    for r in records:
        key = "200" if r.status == 200 else "503" if r.status == 503 else "4xx or other"
        b = per_s[key]
        b[int(r.t - s0)] = b.get(int(r.t - s0), 0) + 1
    for key, b in per_s.items():
        ks = sorted(b)
        a3.plot([k / 60 for k in ks], [b[k] for k in ks], label=key, lw=0.8)
    a3.set_ylabel("requests per s (by arrival)")
    a3.set_xlabel("minutes since the steady phase began")
    a3.legend(loc="upper left")
    for ax in (a1, a2, a3):
        for phase, color in (("capacity", "0.9"), ("burst", "mistyrose"),
                             ("recovery", "honeydew")):
            lo, hi = res["bounds"][phase]
            ax.axvspan((lo - s0) / 60, (hi - s0) / 60, color=color, zorder=0)
    fig.suptitle(f"textune serve soak, {res['date']}: {res['rate_fraction']:.0%} of "
                 f"{res['capacity_rps']} req/s, burst {res['burst_factor']:g}x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(res: dict) -> str:
    t, ph, rss, rec = res["targets"], res["phases"], res["rss"], res["recovery"]

    def met(name):
        return "yes" if t[name]["met"] else "**no**"

    recovered = f"> {rec['window_s']}" if rec["seconds"] is None else rec["seconds"]
    errors = ", ".join(f"{k} {v}" for k, v in res["unexpected"].items()) or "none"
    client_cpu = max((x.get("client_cpu_pct", 0) for x in res["samples"]), default=0)

    lines = [
        f"Run {res['date']} ({res['machine']}; torch {res['versions']['torch']}, "
        f"textune {res['versions']['textune']}), model: {res['model']}:", "",
        f"    {res['command']}", "",
        f"Capacity (closed loop, {res['capacity_concurrency']} clients): "
        f"**{res['capacity_rps']} req/s** of the mix; steady load {res['rate_fraction']:.0%} of "
        f"it for {len(res['minutes'])} min, burst {res['burst_factor']:g}x for "
        f"{res['burst_seconds']:g} s.", "",
        "| target | measured | limit | met |", "|---|---:|---:|---|",
        f"| RSS growth after {res['warmup_minutes']} min warm-up | "
        f"{_fmt_pct(rss['growth'])} ({rss['baseline_mb']} → {rss['end_mb']} MiB; "
        f"slope {rss['slope_mb_per_hour']} MiB/h) | ≤ 5% | {met('rss_growth')} |",
        f"| p99 minute to minute (after warm-up) | {_fmt_pct(res['p99_flat'])} max change | "
        f"≤ 20% | {met('p99_flat')} |",
        f"| 5xx other than 503, and other errors | {t['errors']['value']} ({errors}) | 0 | "
        f"{met('errors')} |",
        f"| recovery after the burst | {recovered} s (last 503 at {rec['last_503_s']} s) | "
        f"≤ 5 s | {met('recovery_s')} |", "",
        f"The client fell behind its schedule by at most {res['client_max_lateness_s']} s and "
        f"used at most {client_cpu:.0f}% CPU.", "",
        "| phase | requests | 200 / expected 4xx | 503 | errors | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, p in ph.items():
        lines.append(f"| {name} | {p['requests']} | {p['ok']} | {p['n503']} | {p['errors']} | "
                     f"{p['p50_ms']} | {p['p99_ms']} | {p['max_ms']} |")
    lines += ["", "| minute | requests | p50 ms | p99 ms | 503 | errors | RSS MiB |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for m in res["minutes"]:
        lines.append(f"| {m['minute']} | {m['requests']} | {m['p50_ms']} | {m['p99_ms']} | "
                     f"{m['n503']} | {m['errors']} | {m['rss_mb']} |")
    return "\n".join(lines)


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}%"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = names[0].strip() if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def train_default_model(folder: Path) -> str:
    """A probe on real MiniLM, trained on the README's 24 support tickets (4 labels)."""
    subprocess.run([sys.executable, "-m", "textune", "train", "--data", str(TICKETS[0]),
                    "--method", "probe", "-o", str(folder), "--quiet"], check=True)
    return str(folder)


async def soak(args, model: str, out: Path) -> tuple[dict, list[Record]]:
    import httpx

    proc, url = start_server(model, args.serve_arg, out / "server.log")
    t0 = time.monotonic()
    sampler = Sampler(proc.pid, args.sample_seconds, t0)
    sampler.start()
    bounds: dict[str, list[float]] = {}
    try:
        limits = httpx.Limits(max_connections=args.max_in_flight,
                              max_keepalive_connections=args.max_in_flight,
                              keepalive_expiry=args.client_keep_alive)
        async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as client:
            for _ in range(600):
                if (await client.get("/healthz")).status_code == 200:
                    break
                await asyncio.sleep(0.5)
            info = (await client.get("/v1/model")).json()
            traffic = Traffic(ticket_texts(), max_texts=info["limits"]["max_texts"],
                              max_chars=info["limits"]["max_chars"], pairs=info["text_pair"],
                              seed=args.seed)
            warm_records = await warm_up(client, traffic, t0)
            began = time.monotonic() - t0
            capacity, cap_records = await closed_loop(client, traffic, args.capacity_seconds,
                                                      args.capacity_concurrency, t0)
            cap_records = warm_records + cap_records
            bounds["capacity"] = [began, time.monotonic() - t0]
            if capacity <= 0:
                raise RuntimeError("no request was answered while measuring capacity; see "
                                   f"{out / 'server.log'}")
            n_cap = capacity * args.capacity_seconds * 4 / 5
            if n_cap < MIN_CAPACITY_REQUESTS:
                log.warning("capacity from only %.0f answered requests: a noisy estimate; "
                            "raise --capacity-seconds", n_cap)
            rate = args.rate_fraction * capacity
            log.info("capacity %.2f req/s; steady %.2f req/s for %g min", capacity, rate,
                     args.minutes)
            phases = [("steady", rate, 60 * args.minutes),
                      ("burst", args.burst_factor * capacity, args.burst_seconds),
                      ("recovery", rate, args.recovery_seconds)]
            start = time.monotonic()
            t = start - t0
            for name, _, seconds in phases:
                bounds[name] = [t, t + seconds]
                t += seconds
            records, overflow, late = await open_loop(client, traffic, phases, t0, start,
                                                      args.max_in_flight, args.seed)
    finally:
        sampler.stopped.set()
        sampler.join()
        exit_code = stop_server(proc)
    records = cap_records + records
    log_text = (out / "server.log").read_text(errors="replace")
    res = summarize(records, sampler.samples, bounds, capacity, args.warmup_minutes, log_text)
    res["errors"]["client_overflow"] = overflow
    res["transport_examples"] = TRANSPORT_EXAMPLES
    res["errors"]["server_exit_code_not_0"] = int(exit_code != 0)
    res.update(client_max_lateness_s=round(late, 3), server_exit_code=exit_code,
               bounds=bounds, samples=sampler.samples, model_info=info)
    return res, records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a saved model folder (default: train a probe on MiniLM "
                    "on examples/data/tickets_train.csv)")
    ap.add_argument("--minutes", type=float, default=30, help="steady phase length")
    ap.add_argument("--rate-fraction", type=float, default=0.8)
    ap.add_argument("--burst-factor", type=float, default=3.0)
    ap.add_argument("--burst-seconds", type=float, default=20)
    ap.add_argument("--recovery-seconds", type=float, default=60)
    ap.add_argument("--capacity-seconds", type=float, default=30)
    ap.add_argument("--capacity-concurrency", type=int, default=8)
    ap.add_argument("--warmup-minutes", type=int, default=1)
    ap.add_argument("--sample-seconds", type=float, default=10)
    ap.add_argument("--max-in-flight", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=60, help="client timeout per request (s)")
    ap.add_argument("--client-keep-alive", type=float, default=1.0,
                    help="seconds the client reuses an idle connection; below the server's "
                    "--keep-alive (5), or a request sent as the server closes it is reset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--serve-arg", action="append", default=[],
                    help="passed to `textune serve`, e.g. --serve-arg=--backend --serve-arg=onnx")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "soak")
    ap.add_argument("--enforce", default="rss_growth,p99_flat,errors,recovery_s",
                    help="targets whose failure makes the exit status 1")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    enforce = [t for t in args.enforce.split(",") if t]
    unknown = set(enforce) - {"rss_growth", "p99_flat", "errors", "recovery_s"}
    if unknown:
        ap.error(f"--enforce: unknown target(s) {sorted(unknown)}")
    args.output.mkdir(parents=True, exist_ok=True)

    budget = 60 * args.minutes + args.burst_seconds + args.recovery_seconds + \
        args.capacity_seconds + 900  # startup, draining, a slow machine
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="textune-soak-") as tmp:
        if args.model:
            model, model_desc = args.model, args.model
        else:
            model = train_default_model(Path(tmp) / "tickets-probe")
            model_desc = "probe on MiniLM, 24 support tickets (examples/data/tickets_train.csv)"
        res, records = asyncio.run(asyncio.wait_for(soak(args, model, args.output), budget))
    res["targets"] = check_targets(res)
    res.update(date=date, machine=machine(), model=model_desc,
               command="HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/soak.py "
               + " ".join(sys.argv[1:] if argv is None else argv),
               versions={"torch": version("torch"), "textune": version("textune"),
                         "python": platform.python_version()},
               rate_fraction=args.rate_fraction, burst_factor=args.burst_factor,
               burst_seconds=args.burst_seconds, warmup_minutes=args.warmup_minutes,
               capacity_concurrency=args.capacity_concurrency, enforced=enforce)
    (args.output / "soak.json").write_text(json.dumps(res, indent=1))
    with (args.output / "requests.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["phase", "t", "latency", "status", "kind"])
        w.writerows((r.phase, round(r.t, 3), round(r.latency, 4), r.status, r.kind)
                    for r in records)
    if plot(res, records, args.output / "soak.png"):
        log.info("plot: %s", args.output / "soak.png")
    print(markdown(res))
    failed = [name for name in enforce if not res["targets"][name]["met"]]
    if failed:
        log.error("targets not met: %s (see %s)", ", ".join(failed), args.output / "soak.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
