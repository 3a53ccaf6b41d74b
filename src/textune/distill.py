"""Teacher to student: a saved model labels the user's unlabelled texts, and a smaller, faster
model learns to answer as it does.

The recipe, kept short on purpose (one pass of the teacher, one ordinary training of the
student, one refit of the head):

1. The teacher (any saved textune model: any method, backbone, multi-label included) gives
   its probabilities on the unlabelled texts.
2. The student trains as any textune model does (`--method setfit|probe|finetune` on its own
   backbone) on the teacher's *decisions*: its top label, or its label set. That is what
   trains a student body: setfit's contrastive pairs are positive when the teacher put two
   texts in the same class.
3. With soft targets (the default for students with a separate head: setfit, probe, a
   static backbone), the head is then refitted on the teacher's *probabilities*
   (cross-entropy against them, i.e. KL up to a constant; `LogisticHead.fit_soft`): it
   learns how sure the teacher was, keeps every class (even one the teacher rarely picks),
   and a multi-label student takes the teacher's thresholds with its probabilities.

The student is an ordinary textune model: it predicts, evaluates, serves, exports and
self-checks on load like any other, and it remembers how its teacher's data was read.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from .data import DataError, Examples, coerce_inputs, load_examples

log = logging.getLogger(__name__)

TARGETS = ("soft", "hard")


def distill(teacher: Any, data: Any, output: str | Path | None = None, *,
            student: str = "minilm", method: str | None = None, max_texts: int | None = None,
            targets: str = "soft", seed: int = 0, show_progress: bool = True,
            reading: dict | None = None, **params: Any):
    """Train a `student`-backbone model with `method` to answer as `teacher` does on `data`.

    teacher: a `TextClassifier` or the folder of a saved one. method: how the student
    trains (default: setfit; probe for a static student, whose only trainable part is the
    head). data: unlabelled texts, in any
    form `predict` takes (a CSV/TSV/JSONL/Parquet path, a DataFrame, a list of texts or of
    (text, text_pair) tuples); a label column in it is ignored. max_texts: use at most this
    many rows, a random sample drawn with `seed`. targets: "soft" refits the student's head
    on the teacher's probabilities (students with a head: setfit, probe); "hard" trains on
    the teacher's labels only. reading: `load_examples` options for a file (default: how the
    teacher's training data was read). Other keyword arguments are the student's
    `TextClassifier` parameters (`steps=`, `epochs=`, ...). With `output`, the student is
    saved there. Returns the trained student.
    """
    from .classifier import TextClassifier

    if targets not in TARGETS:
        raise ValueError(f"targets must be one of {list(TARGETS)}, not {targets!r}.")
    teacher_name = None
    if not isinstance(teacher, TextClassifier):
        teacher_name = str(teacher)
        teacher = TextClassifier.load(teacher)
    ex = _unlabelled(data, teacher, reading)
    if max_texts is not None and len(ex) > max_texts:
        keep = np.sort(np.random.default_rng(seed).choice(len(ex), max_texts, replace=False))
        ex = ex.subset(keep.tolist())

    t0 = time.perf_counter()
    teacher.show_progress = show_progress
    proba = teacher.predict_proba(ex)
    teacher_seconds = time.perf_counter() - t0
    log.info("teacher labelled %d texts in %.1fs", len(ex), teacher_seconds)
    clf = train_student(teacher, ex, proba, student=student, method=method, targets=targets,
                        seed=seed, show_progress=show_progress, **params)
    d = clf.fit_stats_["distillation"]
    d.update(teacher=teacher_name, teacher_seconds=round(teacher_seconds, 3))
    clf.train_seconds_ = clf.fit_stats_["train_seconds"] = clf.train_seconds_ + teacher_seconds
    if output is not None:
        clf.save(output)
    return clf


def train_student(teacher, ex: Examples, proba: np.ndarray, *, student: str = "minilm",
                  method: str | None = None, targets: str = "soft", seed: int = 0,
                  show_progress: bool = True, **params: Any):
    """The student half of `distill`, given the teacher's probabilities `proba` on the
    unlabelled `ex` (the setfit drop-in plans its steps from them first)."""
    from .classifier import TextClassifier
    from .models.backbones import is_static

    if method is None:
        method = "probe" if is_static(student) else "setfit"

    clf = TextClassifier(method=method, model=student, seed=seed, show_progress=show_progress,
                         **params)
    clf.fit(_taught(ex, teacher, proba))
    soft = targets == "soft" and clf.kind == "embedding"
    if soft:
        emb = _fit_soft_head(clf, ex, proba, teacher)
    else:
        _require_every_class(clf, teacher, targets)
    clf.reading_ = getattr(teacher, "reading_", None)
    clf.fit_stats_["distillation"] = {
        "teacher": None, "teacher_method": teacher.method, "teacher_backbone": teacher.model,
        "texts": len(ex), "targets": "soft" if soft else "hard",
        "agreement_with_teacher": _agreement(clf, emb, proba, teacher) if soft else None}
    return clf


def _unlabelled(data: Any, teacher, reading: dict | None) -> Examples:
    """The texts to distil on, read as the teacher reads its inputs; refuses what the teacher
    cannot answer (pairs for a single-text model and the reverse) and an empty set."""
    if isinstance(data, (str, Path)):
        options = {k: v for k, v in (reading if reading is not None else
                                     getattr(teacher, "reading_", None) or {}).items()
                   if k in ("text_column", "text_pair_column", "quoting", "unescape_html",
                            "header")}
        ex = load_examples(data, require_labels=False, **options)
        ex = Examples(ex.texts, None, ex.text_pairs, source=ex.source,
                      first_line=ex.first_line, columns=ex.columns, lines=ex.lines)
    else:
        ex = coerce_inputs(data, None, "unlabelled texts", with_labels=False)
        ex = Examples(ex.texts, None, ex.text_pairs, source=ex.source)
    if not len(ex):
        raise DataError(f"{ex.source}: no texts to distil on; pass the unlabelled texts the "
                        "student should learn from (any file `textune predict` reads).")
    if ex.is_pair != teacher.is_pair_:
        want = "text pairs" if teacher.is_pair_ else "single texts"
        have = "text pairs" if ex.is_pair else "single texts"
        raise DataError(f"{ex.source}: the teacher was trained on {want}, but these are "
                        f"{have}. Name the columns as the teacher's data had them "
                        "(--text-column, --text-pair-column).")
    return ex


def _taught(ex: Examples, teacher, proba: np.ndarray) -> Examples:
    """The texts with the teacher's decisions as labels: its top class, or its label set
    (rows it gives no label keep none)."""
    labels = teacher.decision_.labels(proba, teacher.labels)
    if not teacher.multi_label:
        if len(set(labels)) < 2:
            raise DataError(f"{ex.source}: the teacher gives every one of these {len(ex)} "
                            f"texts the label {labels[0]!r}; a student cannot learn to tell "
                            "classes apart from that. Distil on texts of several classes.")
        return Examples(ex.texts, labels, ex.text_pairs, source=ex.source)
    used = [c for c in teacher.labels if any(c in row for row in labels)]
    if len(used) < 2:
        raise DataError(f"{ex.source}: the teacher gives these {len(ex)} texts "
                        f"{len(used)} distinct label(s); a student needs at least two. "
                        "Distil on texts of several labels.")
    return Examples(ex.texts, [tuple(r) for r in labels], ex.text_pairs, source=ex.source,
                    multi_label=True, label_names=used, allow_empty_labels=True)


def _fit_soft_head(clf, ex: Examples, proba: np.ndarray, teacher) -> np.ndarray:
    """Refit the student's head on the teacher's probabilities, over all its classes; a
    multi-label student takes the teacher's thresholds with them. Returns the embeddings
    (`_agreement` scores the new head on them)."""
    from .models.heads import LogisticHead

    model = clf.model_
    emb = model.encoder.embed(ex.texts, ex.text_pairs, progress=clf.show_progress,
                              desc="encoding for the head")
    model.head = LogisticHead(C=model.head.C, multi_label=teacher.multi_label).fit_soft(
        emb, proba, seed=clf.seed)
    clf.classes_ = np.array(teacher.labels)
    clf.decision_ = copy.deepcopy(teacher.decision_)
    return emb


def _require_every_class(clf, teacher, targets: str) -> None:
    """A student trained on labels alone knows only the classes the teacher gave."""
    missing = [c for c in teacher.labels if c not in set(clf.labels)]
    if missing:
        why = ("--targets hard learns only the labels" if targets == "hard" else
               f"a {clf.method} student learns only the labels")
        raise DataError(f"the teacher gives none of these texts the label(s) "
                        f"{', '.join(map(repr, missing[:10]))}, and {why} it sees. Add texts "
                        "of those classes, or use a student with a head (--method setfit or "
                        "probe) and --targets soft, which learns every class from the "
                        "teacher's probabilities.")


def _agreement(clf, emb: np.ndarray, proba: np.ndarray, teacher) -> float:
    """How often the student's decision equals the teacher's on the distillation texts."""
    mine = clf.model_.head.predict_proba(emb)
    if teacher.multi_label:
        same = (clf.decision_.indicator(mine) == teacher.decision_.indicator(proba)).all(axis=1)
    else:
        same = mine.argmax(axis=1) == proba.argmax(axis=1)
    return round(float(same.mean()), 4)
