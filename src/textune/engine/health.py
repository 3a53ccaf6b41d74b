"""Training-health checks: say when a run collapsed, and what to do about it.

The failure these catch is common and silent: a model that predicts one class for every input
scores "50% accuracy" on balanced data while its loss rises epoch after epoch (seen with an
ELECTRA model fine-tuned on Korean reviews at too high a learning rate). Each warning names
the symptom and a concrete remedy.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

NAN_ADVICE = ("training diverged: the loss became NaN or infinite. Lower the learning rate "
              "(now {lr:g}; try a tenth), keep warmup on, or train in fp32 (--no-bf16 / "
              "bf16=False).")


class TrainingDiverged(RuntimeError):
    """The loss went NaN/inf before any usable weights existed."""


def check(*, losses: Sequence[float], pred: np.ndarray | None,
          train_labels: np.ndarray | None, lr: float, diverged: bool = False,
          checked_on: str = "validation", class_names: Sequence[str] | None = None
          ) -> list[str]:
    """Warnings (empty when healthy) from per-epoch mean losses and the predictions on the
    validation split (or, without one, on training rows: `checked_on`)."""
    warnings = []
    if diverged:
        warnings.append(NAN_ADVICE.format(lr=lr) + " The best weights seen before it are kept.")
    finite = [x for x in losses if math.isfinite(x)]
    rising = (len(finite) >= 3 and all(b > a for a, b in zip(finite[-3:], finite[-2:]))
              # a converged loss wobbling near zero is not a problem
              and finite[-1] > max(0.05, 1.1 * min(finite)))
    if rising:
        warnings.append(
            f"the training loss rose for the last epochs ({' -> '.join(f'{x:.4f}' for x in finite[-3:])}): "
            f"the learning rate ({lr:g}) is probably too high. Try a tenth of it, or more "
            "warmup.")
    elif len(finite) >= 3 and finite[-1] > 0.98 * finite[0]:
        warnings.append(
            f"the training loss did not go down ({finite[0]:.4f} -> {finite[-1]:.4f}): check that "
            f"labels match texts, then try another learning rate (now {lr:g}) or more epochs.")
    if pred is not None and train_labels is not None and len(pred) >= 10:
        counts = Counter(np.asarray(train_labels).tolist())
        if len(counts) > 1:
            balance = min(counts.values()) / max(counts.values())
            top, n_top = Counter(np.asarray(pred).tolist()).most_common(1)[0]
            if n_top == len(pred) and balance >= 0.2:
                warnings.append(
                    f"training collapsed: the model predicts "
                    f"{_class_name(top, class_names)} for every {checked_on} "
                    f"input although the training data has {len(counts)} classes in balance "
                    f"{balance:.2f}. Lower the learning rate (now {lr:g}; try a tenth), train "
                    "more epochs, or check that the backbone's tokenizer covers your language "
                    "(see the [UNK] warning, if any).")
    return warnings


def _class_name(class_id, class_names) -> str:
    if class_names is not None and 0 <= int(class_id) < len(class_names):
        return f"the label '{class_names[int(class_id)]}'"
    return f"class #{class_id}"


def unknown_token_share(tokenizer, texts: Sequence[str], sample: int = 256) -> float:
    """Share of tokens that are the tokenizer's unknown token, over a sample of texts."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return 0.0
    step = max(1, len(texts) // sample)
    ids = tokenizer(list(texts[::step][:sample]), add_special_tokens=False,
                    truncation=True, max_length=512)["input_ids"]
    total = sum(len(x) for x in ids)
    return sum(x.count(unk) for x in ids) / total if total else 0.0


def warn_unknown_tokens(tokenizer, texts: Sequence[str], backbone: str, log,
                        threshold: float = 0.05) -> float:
    """Log a warning naming the remedy when many tokens are unknown to the backbone."""
    share = unknown_token_share(tokenizer, texts)
    if share >= threshold:
        log.warning(
            "%.0f%% of the tokens in your texts are unknown ([UNK]) to the backbone '%s': its "
            "vocabulary does not cover your language, so the model sees mostly blanks. Use a "
            "multilingual backbone (e.g. --model sentence-transformers/"
            "paraphrase-multilingual-MiniLM-L12-v2, or a model for your language).",
            100 * share, backbone)
    return share
