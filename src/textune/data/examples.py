"""`Examples`: the one validated shape that every reader ends in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import DataError
from .labels import align_labels


@dataclass
class Examples:
    """Texts (or text pairs) with optional labels, plus where they came from.

    `labels` keeps the user's own values (ints or strings); `classes` is their sorted set,
    the same order scikit-learn uses for `classes_`.
    """

    texts: list[str]
    labels: list[Any] | None = None
    text_pairs: list[str] | None = None
    source: str = "<data>"
    first_line: int | None = None  # file line of the first data row, for messages
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name, for messages
    lines: list[int] | None = None  # file line of each row (quoted rows can span lines)
    row_offset: int = 0  # rows before this chunk of a streamed file, for messages

    def __post_init__(self) -> None:
        n = len(self.texts)
        if self.labels is not None and len(self.labels) != n:
            raise DataError(f"{self.source}: {n} texts but {len(self.labels)} labels; "
                            "pass one label per text.")
        if self.text_pairs is not None and len(self.text_pairs) != n:
            raise DataError(f"{self.source}: {n} texts but {len(self.text_pairs)} second texts; "
                            "pass one text pair per text.")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def is_pair(self) -> bool:
        return self.text_pairs is not None

    @property
    def classes(self) -> list[Any]:
        return sorted(set(self.labels or []))

    def where(self, i: int) -> str:
        """Human location of row i (0-based) for error messages."""
        if self.lines is not None:
            line = f" (line {self.lines[i]})"
        elif self.first_line is not None:
            line = f" (line {i + self.first_line})"
        else:
            line = ""
        i += self.row_offset
        return f"row {i + 1}{line}"

    def subset(self, idx: Sequence[int]) -> "Examples":
        return Examples(
            texts=[self.texts[i] for i in idx],
            labels=None if self.labels is None else [self.labels[i] for i in idx],
            text_pairs=None if self.text_pairs is None else [self.text_pairs[i] for i in idx],
            source=self.source, first_line=None, columns=self.columns)

    def inputs(self) -> list[str] | list[tuple[str, str]]:
        """The inputs in the shape `TextClassifier.predict` takes."""
        if self.text_pairs is None:
            return list(self.texts)
        return list(zip(self.texts, self.text_pairs))

    def keys(self) -> list[str | tuple[str, str]]:
        return self.texts if self.text_pairs is None else list(zip(self.texts, self.text_pairs))

    def deduplicated(self) -> tuple["Examples", int, int]:
        """Drop repeated inputs (first occurrence wins).

        Returns (examples, n_dropped, n_conflicting) where conflicting counts inputs that
        appear with more than one label; those keep their first label.
        """
        seen: dict[Any, int] = {}
        conflicts: set[Any] = set()
        keep: list[int] = []
        labels = self.labels or [None] * len(self)
        for i, key in enumerate(self.keys()):
            if key in seen:
                if labels[seen[key]] != labels[i]:
                    conflicts.add(key)
                continue
            seen[key] = i
            keep.append(i)
        return self.subset(keep), len(self) - len(keep), len(conflicts)

    def require_labels(self, min_classes: int = 2) -> None:
        if self.labels is None:
            raise DataError(f"{self.source}: no labels. Name the label column with "
                            "--label-column (or label_column=...).")
        classes = self.classes
        if len(classes) < min_classes:
            col = self.columns.get("label", "label")
            raise DataError(
                f"{self.source}: column '{col}' holds only one class ({classes[0]!r}) in "
                f"{len(self)} rows; a classifier needs at least two. Check that you picked the "
                "right label column and that the file was not filtered to one class.")

    def check_known_labels(self, known: Sequence[Any]) -> None:
        """Raise if labels here were not seen in training (an evaluation set mistake)."""
        if self.labels is not None:
            align_labels(self, known)
