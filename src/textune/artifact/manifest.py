"""What a resumable output folder was made from, so a rerun can tell whether resuming is safe.

A resumed run keeps the outputs it finds. That is right only if they were made from the same
inputs, model and settings: an input file added before a finished one shifts every later row
number, an edited input leaves its old predictions behind, another format or model mixes two
kinds of output. So the run writes a manifest beside its outputs and a rerun compares it with
what it is about to do; `resume_problems` names each difference that would make kept outputs
wrong (an empty list: resuming is safe).

Inputs are recognised cheaply: size, modification time and hashes of the first and last
`BLOCK` bytes (an edit changes at least one of these; reading whole files would cost as much
as a run on large data). A model is recognised by its `textune.json` (every save writes a new
one: creation time, training statistics) and its files' sizes, not their times, so a copied
model folder is the same model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

BLOCK = 64 * 1024
MODEL_CONFIG = "textune.json"


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON to a hidden temp file beside `path`, fsync it, then rename over `path`:
    a reader (or a rerun after a kill) sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=1, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def file_signature(path: str | os.PathLike) -> dict:
    """path (absolute), size, mtime_ns and sha256 (16 hex) of the first and last BLOCK bytes."""
    path = Path(path)
    st = path.stat()
    with open(path, "rb") as f:
        head = hashlib.sha256(f.read(BLOCK)).hexdigest()[:16]
        f.seek(max(0, st.st_size - BLOCK))
        tail = hashlib.sha256(f.read(BLOCK)).hexdigest()[:16]
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "head_sha": head, "tail_sha": tail}


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """sha256 (16 hex) of the model folder's textune.json and every file's relative path and
    size (and modification time where there is no textune.json to tell two saves apart)."""
    root = Path(model_dir)
    h = hashlib.sha256()
    config = root / MODEL_CONFIG
    if config.is_file():
        h.update(config.read_bytes())
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        st = p.stat()
        stamp = "" if config.is_file() else f" {st.st_mtime_ns}"
        h.update(f"{p.relative_to(root).as_posix()} {st.st_size}{stamp}\n".encode())
    return h.hexdigest()[:16]


def value_changes(old: Any, new: Any, name: str = "") -> list[str]:
    """'name: old -> new' for each leaf that differs between two JSON-like values (nested
    mappings are walked, so a message names `params.steps`, not all of `params`)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in [*old, *(k for k in new if k not in old)]:
            out += value_changes(old.get(key), new.get(key), f"{name}.{key}" if name else key)
        return out
    if json.dumps(old, sort_keys=True, default=str) == json.dumps(new, sort_keys=True,
                                                                  default=str):
        return []
    return [f"{name}: {_short(old)} -> {_short(new)}"]


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def file_changes(old: Mapping, new: Mapping) -> list[str]:
    """How one input file differs from its signature (empty: the same file, as far as a
    signature can tell)."""
    out = []
    if old.get("size") != new.get("size"):
        out.append(f"size {old.get('size')} -> {new.get('size')} bytes")
    if old.get("head_sha") != new.get("head_sha"):
        out.append(f"its first {BLOCK // 1024} KiB differ")
    if old.get("tail_sha") != new.get("tail_sha"):
        out.append(f"its last {BLOCK // 1024} KiB differ")
    if old.get("mtime_ns") != new.get("mtime_ns"):
        out.append("modified since" if out else "modified since (same size, same first and "
                   "last blocks: an edit in the middle, or only touched)")
    return out


def resume_problems(old: Mapping, new: Mapping, parts: Iterable[str]) -> list[str]:
    """Why the outputs in a folder must not be kept by a run described by `new`.

    `old` and `new` are manifests: {"settings": {...}, "inputs": [file_signature + "part"
    (its output's file name) + "rows" (null until written)], in the order that numbers rows}.
    `parts`: the output file names now in the folder. Only what finished outputs depend on
    counts: each finished input and every input before it (their rows number it) must be
    unchanged and in place; inputs after the last finished one may be added, removed or
    edited freely, since nothing written depends on them. With nothing finished, nothing
    can be wrong.
    """
    parts = set(parts)
    old_inputs: Sequence[Mapping] = old.get("inputs", [])
    listed = {i["part"] for i in old_inputs}
    problems = [f"{p} is not one of the parts the manifest lists" for p in sorted(parts - listed)]
    done = [k for k, i in enumerate(old_inputs) if i["part"] in parts]
    if not done:
        return problems
    kept = old_inputs[:done[-1] + 1]  # the inputs the finished parts depend on
    problems += value_changes(old.get("settings", {}), new.get("settings", {}))
    new_inputs = new.get("inputs", [])
    now = {i["path"]: k for k, i in enumerate(new_inputs)}
    for k, was in enumerate(kept):
        state = "finished" if k in done else "not finished, but later inputs are"
        if was["path"] not in now:
            problems.append(f"input {was['path']} ({state}) is gone")
            continue
        changes = file_changes(was, new_inputs[now[was['path']]])
        if changes:
            problems.append(f"input {was['path']} ({state}) changed: {', '.join(changes)}")
    before = [now[i["path"]] for i in kept if i["path"] in now]
    last = max(before, default=-1)
    known = {i["path"] for i in old_inputs}
    for i in new_inputs[:last + 1]:
        if i["path"] not in known:
            problems.append(f"input {i['path']} is new and sorts before a finished input, "
                            "so the row numbers of finished parts would shift")
    return problems
