"""Which columns hold the text, the second text of a pair and the label.

Columns are found by their name, or failing that by their content; a name the user gives
that does not exist is an error that suggests the closest one.
"""

from __future__ import annotations

import difflib
import re
from typing import Sequence

import pandas as pd

from .errors import DataError

LABEL_NAMES = ("label", "labels", "class", "category", "target", "y", "sentiment", "quality",
               "intent", "topic", "gold_label")
TEXT_NAMES = ("text", "sentence", "content", "review", "document", "body", "utterance",
              "message", "comment", "tweet", "question", "premise", "sentence1", "text_a",
              "question1", "query")
PAIR_NAMES = ("text_pair", "sentence2", "text_b", "hypothesis", "question2", "answer",
              "passage")


def _pick(columns: list[str], given: str | None, names: Sequence[str], source: str,
          role: str, option: str) -> str | None:
    if given is not None:
        if given in columns:
            return given
        close = difflib.get_close_matches(given, columns, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(f"{source}: no column '{given}' for the {role}; columns are "
                        f"{columns}.{hint} Fix {option}.")
    lower = {c.lower().strip(): c for c in columns}
    for cand in names:
        if cand in lower:
            return lower[cand]
    return None


def _guess_text_columns(df: pd.DataFrame, exclude: set, name: str) -> tuple[str, str | None]:
    """Text columns are the string-valued ones that are not numbers/ids; two of them = pairs."""
    cands = []
    for col in df.columns:
        if col in exclude:
            continue
        values = df[col]
        sample = values.head(200)
        if not all(isinstance(v, str) for v in sample):
            continue
        if all(re.fullmatch(r"\s*-?[\d.]+\s*", v) for v in sample if v):
            continue
        cands.append(col)
    if len(cands) == 1:
        return cands[0], None
    if len(cands) == 2:
        return cands[0], cands[1]
    raise DataError(f"{name}: cannot tell which column holds the text; columns are "
                    f"{list(df.columns)}. Name it with --text-column (and --text-pair-column "
                    "for sentence pairs).")
