"""The resume manifest (`artifact.manifest`) without Ray: when is keeping a folder's finished
outputs safe, and does the refusal name what changed?

The rule under test: a finished output depends on its own input and on every input before it
(they number its rows), and on the settings (format, model, reading options). Anything else
may change between runs.
"""

import os
import shutil

from hypothesis import given, settings
from hypothesis import strategies as st

from textune.artifact.manifest import (BLOCK, file_signature, model_fingerprint,
                                       resume_problems, value_changes, write_json_atomic)


def sig(name: str, version: int = 0) -> dict:
    """A file signature as `file_signature` makes one; `version` stands for an edit."""
    return {"path": name, "size": 100 + version, "mtime_ns": version,
            "head_sha": f"h{version}", "tail_sha": "t", "rows": None}


def manifest(files: list[tuple[str, int]], fmt: str = "parquet", model: str = "m1") -> dict:
    return {"settings": {"--output-format": fmt, "model": {"fingerprint": model}},
            "inputs": [{**sig(name, v), "part": f"part-{k:05d}-{name}.{fmt}"}
                       for k, (name, v) in enumerate(sorted(files))]}


names = st.lists(st.text("abcdef", min_size=1, max_size=3), min_size=1, max_size=6,
                 unique=True).map(sorted)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), files=names)
def test_refused_exactly_when_a_finished_output_depends_on_the_change(data, files):
    old = manifest([(n, 0) for n in files])
    done = sorted(data.draw(st.sets(st.sampled_from(range(len(files))))))
    parts = [old["inputs"][k]["part"] for k in done]
    last = done[-1] if done else -1
    kind = data.draw(st.sampled_from(["add", "edit", "remove", "format", "model", "none"]))
    now, expect_refused, named = [(n, 0) for n in files], False, None
    if kind == "add":
        extra = data.draw(st.text("abcdefg", min_size=1, max_size=3).filter(
            lambda x: x not in files))
        now.append((extra, 0))
        expect_refused, named = last >= 0 and extra < files[last], extra
    elif kind in ("edit", "remove"):
        k = data.draw(st.sampled_from(range(len(files))))
        now = [(n, 1 if i == k else 0) for i, (n, _) in enumerate(now)] if kind == "edit" \
            else [x for i, x in enumerate(now) if i != k]
        expect_refused, named = k <= last, files[k]
    new = manifest(now, fmt="jsonl" if kind == "format" else "parquet",
                   model="m2" if kind == "model" else "m1")
    if kind in ("format", "model"):
        expect_refused, named = last >= 0, {"format": "--output-format",
                                            "model": "model.fingerprint"}[kind]
    problems = resume_problems(old, new, parts)
    assert bool(problems) == expect_refused, (kind, done, problems)
    if expect_refused:
        assert any(named in p for p in problems), problems


def test_the_issue_case_an_earlier_file_added_is_named():
    old = manifest([("b.csv", 0), ("c.csv", 0)])
    new = manifest([("a.csv", 0), ("b.csv", 0), ("c.csv", 0)])
    problems = resume_problems(old, new, ["part-00000-b.csv.parquet",
                                          "part-00001-c.csv.parquet"])
    assert problems == ["input a.csv is new and sorts before a finished input, so the row "
                        "numbers of finished parts would shift"]
    # a file that sorts after every finished one is just more work: resuming is right
    assert resume_problems(old, manifest([("b.csv", 0), ("c.csv", 0), ("d.csv", 0)]),
                           ["part-00000-b.csv.parquet"]) == []


def test_each_difference_is_named_with_old_and_new_values():
    old = manifest([("b.csv", 0), ("c.csv", 0)])
    new = manifest([("b.csv", 1), ("c.csv", 0)], fmt="jsonl", model="m2")
    problems = resume_problems(old, new, ["part-00000-b.csv.parquet"])
    assert '--output-format: "parquet" -> "jsonl"' in problems
    assert 'model.fingerprint: "m1" -> "m2"' in problems
    assert ("input b.csv (finished) changed: size 100 -> 101 bytes, its first 64 KiB "
            "differ, modified since") in problems
    # an unfinished input before a finished one: its row count numbers the later part
    problems = resume_problems(old, new, ["part-00001-c.csv.parquet"])
    assert any(p.startswith("input b.csv (not finished, but later inputs are) changed")
               for p in problems)
    # a part the manifest does not list (another run's, another format's) is never kept
    assert resume_problems(old, old, ["part-00000-b.csv.jsonl"]) == [
        "part-00000-b.csv.jsonl is not one of the parts the manifest lists"]
    assert value_changes({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": None}) == [
        "a.c: 2 -> 3"]


def test_file_signature_sees_edits_at_the_ends_and_in_the_middle(tmp_path):
    path = tmp_path / "big.csv"
    body = bytearray(b"text\n" + b"x" * (3 * BLOCK) + b"\n")
    path.write_bytes(body)
    first = file_signature(path)
    assert first["path"] == str(path.resolve()) and first["size"] == len(body)
    body[10] = ord("y")  # the first block
    path.write_bytes(body)
    os.utime(path, ns=(first["mtime_ns"], first["mtime_ns"]))
    assert file_signature(path)["head_sha"] != first["head_sha"]
    body[10] = ord("x")
    body[BLOCK + 5] = ord("z")  # the middle, same size: only the modification time tells
    path.write_bytes(body)
    second = file_signature(path)
    assert (second["head_sha"], second["tail_sha"], second["size"]) == (
        first["head_sha"], first["tail_sha"], first["size"])
    os.utime(path, ns=(first["mtime_ns"] + 10**9, first["mtime_ns"] + 10**9))
    problems = resume_problems({"inputs": [{**first, "part": "p"}]},
                               {"inputs": [file_signature(path)]}, ["p"])
    assert problems == [f"input {path.resolve()} (finished) changed: modified since (same "
                        "size, same first and last blocks: an edit in the middle, or only "
                        "touched)"]


def test_model_fingerprint_follows_the_model_not_its_copies(probe_model, tiny_texts,
                                                             tmp_path):
    from textune import TextClassifier

    clf, path = probe_model
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)  # new modification times, same model
    assert model_fingerprint(copy) == model_fingerprint(path)
    texts, labels = tiny_texts
    other = TextClassifier(method="probe").fit(texts, labels[::-1])  # same shapes and sizes
    other.save(copy)
    assert model_fingerprint(copy) != model_fingerprint(path)


def test_manifest_is_written_atomically(tmp_path):
    target = tmp_path / "_manifest.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":2}'
    assert [p.name for p in tmp_path.iterdir()] == ["_manifest.json"]  # no temp left
