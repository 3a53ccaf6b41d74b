"""Label-name anchors: the label names, put into a few sentence templates, as extra examples.

With 8 texts per class the words of the labels ("positive", "sport") are the best prior
knowledge there is: the encoder already places "This text is about sport." near sports
news. Adding one such sentence per template and class (`data.templates`, the SetFit
library's zero-shot recipe) to the few-shot training set gave setfit +5.8 points on SST-2
dev (labels named negative/positive), +7.7 on GoEmotions ekman dev (7 emotions) and +0.7 on
BBC News, 8 shots; the probe gained 1.2 to 7.1 (docs/benchmarks.md).

`"auto"` adds them only where they can mean something: single texts with one label each,
and labels that are words, not ids ("0", "LABEL_1"), unless `verbalizers` names them
({"0": "negative", "1": "positive"}: the same words a causal LM scores with `--method peft
--model smollm2`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

import numpy as np

from ..data import Examples

log = logging.getLogger(__name__)

ANCHOR_MODES = ("auto", True, False)


def words_of(label: Any) -> str:
    """A label's letters, lower-cased and space-separated: 'LABEL_1' -> 'label'."""
    return " ".join(re.findall(r"[^\W\d_]+", str(label))).lower()


def labels_are_words(classes) -> bool:
    """Every label has a word of 2+ letters, and no two labels have the same words (so
    'LABEL_0'/'LABEL_1', 'A'/'B' and '0'/'1' are ids, not names)."""
    words = [words_of(c) for c in classes]
    return (all(re.search(r"[^\W\d_]{2,}", str(c)) for c in classes)
            and len(set(words)) == len(words))


def why_not(ex: Examples, names: dict[str, str]) -> str | None:
    """Why anchors cannot apply to this data (labels named by `names`), or None."""
    if ex.is_pair:
        return "the data are text pairs, and a label name is not a pair"
    if ex.multi_label:
        return "the data are multi-label (not measured yet)"
    if not labels_are_words([names.get(str(c), c) for c in ex.classes]):
        return (f"the labels {list(ex.classes)[:6]} are ids, not words; name them with "
                "verbalizers (--label-words 0=negative,1=positive)")
    return None


def add_label_anchors(ex: Examples, y: np.ndarray, mode: Any,
                      verbalizers: dict | None = None) -> tuple[Examples, np.ndarray, int]:
    """`ex` and its class ids `y` (in `ex.classes` order) with the anchor sentences appended,
    and how many were added. mode: "auto" (where `why_not` finds nothing), True, False;
    `verbalizers`: {label: words} for labels that are ids."""
    from ..data.templates import templated_examples

    if mode not in ANCHOR_MODES:
        raise ValueError(f"label_anchors must be 'auto', True or False, not {mode!r}.")
    names = {str(k): str(v) for k, v in (verbalizers or {}).items()}
    unknown = sorted(set(names) - {str(c) for c in ex.classes})
    if unknown:
        raise ValueError(f"verbalizers name labels the training data does not have: "
                         f"{unknown}; its labels are {list(ex.classes)}.")
    if mode is False:
        if names:
            raise ValueError("verbalizers name the labels for label anchors, which "
                             "label_anchors=False turns off; drop one of the two.")
        return ex, y, 0
    reason = why_not(ex, names)
    if reason is not None:
        if mode is True:
            raise ValueError(f"label_anchors=True cannot apply: {reason}.")
        log.info("no label-name anchors: %s", reason)
        return ex, y, 0
    classes = list(ex.classes)
    templated = templated_examples(classes, names=names)
    # a sentence the training set already has is not added twice (`compare --shots 0`
    # trains on these very templates): a copy would only double its weight in the head
    have = set(ex.texts)
    anchors = templated.subset([i for i, t in enumerate(templated.texts) if t not in have])
    if not len(anchors):
        log.info("no label-name anchors: the training texts already hold them all")
        return ex, y, 0
    out = dataclasses.replace(ex, texts=list(ex.texts) + anchors.texts,
                              labels=list(ex.labels) + anchors.labels, lines=None)
    y = np.concatenate([y, [classes.index(c) for c in anchors.labels]])
    log.info("added %d label-name anchors (e.g. %r) to the %d training texts",
             len(anchors), anchors.texts[0], len(ex))
    return out, y, len(anchors)
