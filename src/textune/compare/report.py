"""Reports of a compare grid: a markdown file, a self-contained HTML page and two PNG plots.

The report is rebuilt from `results.jsonl` alone, so it always shows every finished cell,
whether it ran now or in an earlier, interrupted run. Numbers are means (± sample std) over
seeds; the HTML embeds the plots as data URIs so it can be mailed or attached as one file.
"""

from __future__ import annotations

import base64
import html
import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .grid import (ALL, RUN_FILE, SHOTS_PLOT, TIME_PLOT, latest_per_cell, read_results,
                   shots_sort_key)
VERSIONED = ("textune", "torch", "transformers", "sentence-transformers", "scikit-learn",
             "numpy", "matplotlib")


# ------------------------------------------------------------------------------ numbers

def summarize(records: Sequence[dict]) -> list[dict]:
    """One row per (method, shots): mean and std over the seeds that finished."""
    metric = headline(records)
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["method"], r["shots"]), []).append(r)
    rows = []
    for (method, shots), recs in groups.items():
        ok = [r for r in recs if r.get("status") == "ok"]
        row: dict[str, Any] = {"method": method, "shots": shots, "seeds": len(ok),
                               "failed": len(recs) - len(ok)}
        if ok:
            for key in (metric, "f1_macro", "train_seconds", "predict_per_second"):
                values = np.array([r[key] for r in ok], dtype=float)
                row[key] = float(values.mean())
                row[key + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            row["trainable_parameters"] = max(int(r.get("trainable_parameters") or 0)
                                              for r in ok)
            row["n_train"] = int(np.mean([r["n_train"] for r in ok]))
            row["per_seed"] = {r["seed"]: r[metric] for r in ok}  # for paired gaps
        rows.append(row)
    order = _method_order(records)
    rows.sort(key=lambda r: (shots_sort_key(r["shots"]), order.index(r["method"])))
    return rows


def headline(rows: Sequence[dict]) -> str:
    """The score that ranks methods: accuracy, or micro-F1 for multi-label grids (every
    label decision counts once; subset accuracy would punish a single missed tag)."""
    return "f1_micro" if any("f1_micro" in r for r in rows) else "accuracy"


def metric_name(rows: Sequence[dict]) -> str:
    return "micro-F1" if headline(rows) == "f1_micro" else "accuracy"


def _method_order(records: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(r["method"] for r in records))


def _shots_label(shots: Any) -> str:
    return "0 (zero-shot)" if shots == 0 else ("all" if shots == ALL else str(shots))


def recommend(summary: Sequence[dict]) -> list[str]:
    """Plain-language advice: the best method per budget, and when more labels stop paying."""
    metric, name = headline(summary), metric_name(summary)
    lines = []
    by_shots: dict[Any, list[dict]] = {}
    for row in summary:
        if row["seeds"]:
            by_shots.setdefault(row["shots"], []).append(row)
    for shots in sorted(by_shots, key=shots_sort_key):
        rows = sorted(by_shots[shots], key=lambda r: -r[metric])
        budget = ("no labelled examples (zero-shot from label names)" if shots == 0 else
                  "all the labelled data" if shots == ALL else
                  f"{shots} labelled examples per class")
        best = rows[0]
        if len(rows) == 1:
            lines.append(f"With {budget}: {best['method']} reaches {best[metric]:.3f} "
                         f"{name} (the only method that ran).")
            continue
        second = rows[1]
        gap = best[metric] - second[metric]
        fast = min((best, second), key=lambda r: r["train_seconds"])
        slow = second if fast is best else best
        ratio = slow["train_seconds"] / max(fast["train_seconds"], 1e-9)
        paired = _paired_gaps(best, second)
        if len(paired) >= 2:
            # Every method saw the same sample at each seed, so compare seed by seed: the
            # spread of the per-seed gaps, not of the scores, is the noise (~95% margin).
            margin = 2 * float(np.std(paired, ddof=1)) / np.sqrt(len(paired))
            evidence = (f"± {margin:.3f} paired over {len(paired)} seeds, {best['method']} "
                        f"ahead on {sum(d > 0 for d in paired)} of {len(paired)}")
        else:
            margin = max(best[metric + "_std"], second[metric + "_std"])
            evidence = f"std {margin:.3f}"
        if gap <= margin:
            lines.append(f"With {budget}: {best['method']} and {second['method']} are within "
                         f"noise ({best[metric]:.3f} vs {second[metric]:.3f}, gap "
                         f"{gap:.3f}, {evidence}); use {fast['method']}, it trains "
                         f"{ratio:.1f}× faster.")
        else:
            cost = (f"; {second['method']} trains {ratio:.1f}× faster"
                    if fast is second and ratio >= 2 else "")
            lines.append(f"With {budget}: use {best['method']} ({best[metric]:.3f} "
                         f"{name}, +{gap:.3f} over {second['method']}, {evidence}{cost}).")
    done = [r for r in summary if r["seeds"]]
    if len({r["shots"] for r in done}) > 1:
        top = max(done, key=lambda r: r[metric])
        enough = min((r for r in done if r[metric] >= top[metric] - 0.02),
                     key=lambda r: (shots_sort_key(r["shots"]), -r[metric]))
        largest = max((r["shots"] for r in done), key=shots_sort_key)
        if enough is top and top["shots"] == largest:
            lines.append(f"How many labels: {name} was still rising at the largest budget "
                         f"measured ({top['method']} with {_shots_label(top['shots'])} per "
                         f"class, {top[metric]:.3f}); more labels are likely to help.")
        else:
            lines.append(f"How many labels: {enough['method']} with "
                         f"{_shots_label(enough['shots'])} per class gets within 0.02 of the "
                         f"best {name} measured ({top[metric]:.3f}, {top['method']} with "
                         f"{_shots_label(top['shots'])}).")
    return lines


def _paired_gaps(a: dict, b: dict) -> list[float]:
    """a − b headline score on each seed both finished (same training sample for both)."""
    sa, sb = a.get("per_seed", {}), b.get("per_seed", {})
    return [sa[k] - sb[k] for k in sorted(set(sa) & set(sb))]


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    out["python"] = platform.python_version()
    return out


# ------------------------------------------------------------------------------ plots

def plot_accuracy_vs_shots(summary: Sequence[dict], path: Path) -> Path:
    """Mean headline score (accuracy, or micro-F1 for label sets) per method over the shots
    grid, with a ±1 std band."""
    from matplotlib.figure import Figure  # no pyplot: no global backend, no GUI

    metric, name = headline(summary), metric_name(summary)
    shots = sorted({r["shots"] for r in summary if r["seeds"]}, key=shots_sort_key)
    x_of = {s: i for i, s in enumerate(shots)}
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.add_subplot()
    for method in dict.fromkeys(r["method"] for r in summary):
        rows = [r for r in summary if r["method"] == method and r["seeds"]]
        if not rows:
            continue
        x = np.array([x_of[r["shots"]] for r in rows])
        y = np.array([r[metric] for r in rows])
        sd = np.array([r[metric + "_std"] for r in rows])
        (line,) = ax.plot(x, y, marker="o", label=method)
        ax.fill_between(x, y - sd, y + sd, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xticks(range(len(shots)), [_shots_label(s) for s in shots])
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel(f"{name} (mean ± std over seeds)")
    ax.set_title(f"{name[0].upper() + name[1:]} vs labelled examples")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_accuracy_vs_time(records: Sequence[dict], summary: Sequence[dict], path: Path) -> Path:
    """Every cell (faint) and each method x shots mean (labelled) against training time."""
    from matplotlib.figure import Figure

    metric, name = headline(summary), metric_name(summary)
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.add_subplot()
    for method in dict.fromkeys(r["method"] for r in summary):
        ok = [r for r in records if r["method"] == method and r.get("status") == "ok"]
        rows = [r for r in summary if r["method"] == method and r["seeds"]]
        if not ok:
            continue
        (line,) = ax.plot([r["train_seconds"] for r in rows], [r[metric] for r in rows],
                          marker="o", label=method)
        ax.scatter([max(r["train_seconds"], 1e-3) for r in ok], [r[metric] for r in ok],
                   color=line.get_color(), alpha=0.3, s=12)
        for r in rows:
            ax.annotate(_shots_label(r["shots"]).split(" ")[0],
                        (r["train_seconds"], r[metric]), textcoords="offset points",
                        xytext=(4, 4), fontsize=8, color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (log scale)")
    ax.set_ylabel(name)
    ax.set_title(f"{name[0].upper() + name[1:]} vs training time (labels: examples per class)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


# ------------------------------------------------------------------------------ documents

def _pm(row: dict, key: str) -> str:
    return f"{row[key]:.3f} ± {row[key + '_std']:.3f}" if row["seeds"] else "failed"


def _tables(summary: Sequence[dict], records: Sequence[dict]) -> dict[str, tuple]:
    """(header, rows) for each table, shared by markdown and HTML."""
    metric, name = headline(summary), metric_name(summary)
    methods = list(dict.fromkeys(r["method"] for r in summary))
    shots = sorted({r["shots"] for r in summary}, key=shots_sort_key)
    cell = {(r["method"], r["shots"]): r for r in summary}
    pivot = []
    for s in shots:
        line = [_shots_label(s)]
        for m in methods:
            r = cell.get((m, s))
            line.append(_pm(r, metric) if r else "")
        pivot.append(line)
    details = []
    for r in summary:
        ok = bool(r["seeds"])
        details.append([
            r["method"], _shots_label(r["shots"]),
            f"{r['seeds']}" + (f" ({r['failed']} failed)" if r["failed"] else ""),
            _pm(r, metric), _pm(r, "f1_macro"),
            f"{r['train_seconds']:.3f}" if ok else "",
            f"{r['predict_per_second']:.3f}" if ok else "",
            f"{r['trainable_parameters']:,}" if ok else ""])
    every = []
    for r in sorted(records, key=lambda r: (shots_sort_key(r["shots"]),
                                            methods.index(r["method"]), r["seed"])):
        ok = r.get("status") == "ok"
        every.append([r["method"], _shots_label(r["shots"]), str(r["seed"]),
                      str(r.get("n_train", "")), r.get("sample_id", ""),
                      f"{r[metric]:.3f}" if ok else "error",
                      f"{r['f1_macro']:.3f}" if ok else "",
                      f"{r['train_seconds']:.3f}" if ok else "",
                      f"{r['predict_per_second']:.3f}" if ok else ""])
    return {
        "pivot": (["examples per class", *methods], pivot),
        "details": (["method", "examples per class", "seeds", name, "macro-F1",
                     "train seconds", "predict texts/s", "trainable params"], details),
        "cells": (["method", "examples per class", "seed", "train size", "sample",
                   name, "macro-F1", "train seconds", "predict texts/s"], every),
    }


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _context(output: Path, command: str | None) -> dict:
    run = {}
    if (output / RUN_FILE).exists():
        run = json.loads((output / RUN_FILE).read_text(encoding="utf-8"))
    fp = run.get("fingerprint", {})
    return {"command": command or run.get("command") or "(Python API)",
            "train": fp.get("train", {}), "eval": fp.get("eval", {}),
            "params": fp.get("params", {}), "templates": fp.get("templates"),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "versions": versions()}


def _settings_line(ctx: dict) -> str:
    p = ctx["params"]
    keys = ("model", "steps", "epochs", "batch_size", "learning_rate", "max_length")
    return ", ".join(f"{k}={p[k]}" for k in keys if k in p)


def write_report(output: str | Path, command: str | None = None) -> dict:
    """Write report.md, report.html and the plots into `output`; return the summary."""
    output = Path(output)
    records = list(latest_per_cell(read_results(output)).values())
    if not records:
        raise FileNotFoundError(f"{output} has no finished cells to report (no "
                                "results.jsonl lines).")
    summary = summarize(records)
    advice = recommend(summary)
    ctx = _context(output, command)
    tables = _tables(summary, records)
    has_ok = any(r["seeds"] for r in summary)
    plots = []
    if has_ok:
        plots = [plot_accuracy_vs_shots(summary, output / SHOTS_PLOT),
                 plot_accuracy_vs_time(records, summary, output / TIME_PLOT)]
    failed = [r for r in records if r.get("status") != "ok"]

    (output / "report.md").write_text(_markdown(ctx, tables, advice, plots, failed),
                                      encoding="utf-8")
    (output / "report.html").write_text(_html(ctx, tables, advice, plots, failed),
                                        encoding="utf-8")
    return {"summary": summary, "recommendations": advice, "cells": len(records),
            "failed": len(failed), "report_md": str(output / "report.md"),
            "report_html": str(output / "report.html"), "plots": [str(p) for p in plots]}


def _header_lines(ctx: dict) -> list[tuple[str, str]]:
    tr, ev = ctx["train"], ctx["eval"]
    out = [("date", ctx["date"]),
           ("training data", f"{tr.get('source', '?')} ({tr.get('rows', '?')} rows)"),
           ("evaluation data", f"{ev.get('source', '?')} ({ev.get('rows', '?')} rows)"),
           ("settings", _settings_line(ctx))]
    if ctx["templates"]:
        out.append(("zero-shot templates", " / ".join(ctx["templates"])))
    out.append(("versions", ", ".join(f"{k} {v}" for k, v in ctx["versions"].items())))
    return out


def _score_title(tables: dict) -> str:
    """"Accuracy" or "Micro-F1": the headline score, as the details table names it."""
    name = tables["details"][0][3]
    return name[0].upper() + name[1:]


def _markdown(ctx, tables, advice, plots, failed) -> str:
    parts = ["# textune compare", "", "```", ctx["command"], "```", ""]
    parts += [f"- {k}: {v}" for k, v in _header_lines(ctx)]
    parts += ["", "## Recommendation", ""] + [f"- {a}" for a in advice]
    parts += ["", f"## {_score_title(tables)} (mean ± std over seeds)", "",
              _md_table(*tables["pivot"])]
    parts += ["", "## Details", "", _md_table(*tables["details"])]
    if plots:
        parts += ["", "## Plots", ""] + [f"![{p.stem.replace('_', ' ')}]({p.name})"
                                         for p in plots]
    parts += ["", "## All cells", "", _md_table(*tables["cells"])]
    if failed:
        parts += ["", "## Failed cells", ""]
        parts += [f"- {r['method']} shots={r['shots']} seed={r['seed']}: `{r.get('error')}`"
                  for r in failed]
    return "\n".join(parts) + "\n"


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#222}pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap;
overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid
#ccc;padding:.25rem .6rem;text-align:right}th{background:#f0f0f0}td:first-child,
th:first-child{text-align:left}img.plot{max-width:100%;display:block;margin:1rem 0}
.err{color:#a00}"""

# Marks <body data-plots-loaded="k/n"> once images have decoded: lets a headless browser
# check (tests/compare/test_compare.py) confirm the embedded plots render.
_JS = """window.addEventListener('load',function(){var i=document.querySelectorAll('img.plot'),
k=0;i.forEach(function(m){if(m.complete&&m.naturalWidth>0)k++;});
document.body.setAttribute('data-plots-loaded',k+'/'+i.length);});"""


def _html(ctx, tables, advice, plots, failed) -> str:
    e = html.escape
    meta = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in _header_lines(ctx))
    imgs = "".join(
        f'<img class="plot" alt="{e(p.stem.replace("_", " "))}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}">' for p in plots)
    fails = ""
    if failed:
        fails = "<h2>Failed cells</h2><ul>" + "".join(
            f"<li class=\"err\">{e(r['method'])} shots={e(str(r['shots']))} seed={r['seed']}: "
            f"<code>{e(str(r.get('error')))}</code></li>" for r in failed) + "</ul>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>textune compare</title>
<style>{_CSS}</style></head><body>
<h1>textune compare</h1>
<pre>{e(ctx['command'])}</pre>
<ul>{meta}</ul>
<h2>Recommendation</h2><ul>{''.join(f'<li>{e(a)}</li>' for a in advice)}</ul>
<h2>{_score_title(tables)} (mean ± std over seeds)</h2>{_html_table(*tables['pivot'])}
<h2>Details</h2>{_html_table(*tables['details'])}
{'<h2>Plots</h2>' + imgs if plots else ''}
<h2>All cells</h2>{_html_table(*tables['cells'])}
{fails}
<script>{_JS}</script>
</body></html>
"""
