"""`Examples`: the one validated shape that every reader ends in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import DataError
from .labels import align_labels, label_counts


@dataclass
class Examples:
    """Texts (or text pairs) with optional labels, plus where they came from.

    `labels` keeps the user's own values (ints or strings); `classes` is their sorted set,
    the same order scikit-learn uses for `classes_`. Multi-label data (`multi_label`) has one
    tuple of labels per row (empty: a row with no label); its vocabulary is `label_names`
    when declared (a label-names file, a matrix's columns), else the sorted union.
    """

    texts: list[str]
    labels: list[Any] | None = None
    text_pairs: list[str] | None = None
    source: str = "<data>"
    first_line: int | None = None  # file line of the first data row, for messages
    columns: dict[str, str] = field(default_factory=dict)  # role -> column name, for messages
    lines: list[int] | None = None  # file line of each row (quoted rows can span lines)
    row_offset: int = 0  # rows before this chunk of a streamed file, for messages
    multi_label: bool = False  # labels are tuples of labels, one tuple per row
    label_names: list[Any] | None = None  # the declared label vocabulary, in its order
    allow_empty_labels: bool = False  # multi-label rows may have no label

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

    def fingerprint(self) -> str:
        """A hash of the rows and labels, in order: whether two runs trained on the same data
        (a checkpoint resumes only onto the rows it was trained on)."""
        import hashlib
        import json

        blob = json.dumps([self.texts, self.text_pairs, self.labels, self.multi_label,
                           self.label_names], default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    @property
    def is_pair(self) -> bool:
        return self.text_pairs is not None

    @property
    def classes(self) -> list[Any]:
        if self.multi_label:
            if self.label_names is not None:
                return list(self.label_names)
            return sorted({c for row in self.labels or [] for c in row})
        return sorted(set(self.labels or []))

    def indicator(self, classes: Sequence[Any] | None = None):
        """Multi-label rows as a (rows, labels) 0/1 float32 matrix, columns in `classes`
        order (default: `self.classes`); a label outside `classes` is a DataError."""
        import numpy as np

        if not self.multi_label:
            raise ValueError("indicator() is for label sets (multi_label=True).")
        classes = list(self.classes if classes is None else classes)
        rows = align_labels(self, classes)
        index = {c: j for j, c in enumerate(classes)}
        out = np.zeros((len(rows), len(classes)), np.float32)
        for i, row in enumerate(rows):
            out[i, [index[c] for c in row]] = 1.0
        return out

    def label_ids(self, classes: Sequence[Any] | None = None, *, unknown: int | None = None):
        """The labels as a model trains on them, the one place labels become ids: class ids
        in `classes` order (default: `self.classes`) as an int array, or for label sets the
        `indicator` matrix. A label outside `classes` is a DataError, or with `unknown` that
        id (an evaluation set's label the training set lacks)."""
        import numpy as np

        if self.multi_label:
            return self.indicator(classes)
        classes = list(self.classes if classes is None else classes)
        index = {c: i for i, c in enumerate(classes)}
        if unknown is not None:
            return np.array([index.get(v, unknown) for v in self.labels or []], dtype=np.int64)
        labels = self.labels or []
        if any(v not in index for v in labels):  # by spelling ("1" is 1), or a DataError
            labels = align_labels(self, classes)
        return np.array([index[v] for v in labels], dtype=np.int64)

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
            source=self.source, first_line=None, columns=self.columns,
            multi_label=self.multi_label, label_names=self.label_names,
            allow_empty_labels=self.allow_empty_labels)

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
        if self.multi_label:
            return self._require_label_sets(min_classes)
        if len(classes) < min_classes:
            col = self.columns.get("label", "label")
            raise DataError(
                f"{self.source}: column '{col}' holds only one class ({classes[0]!r}) in "
                f"{len(self)} rows; a classifier needs at least two. Check that you picked the "
                "right label column and that the file was not filtered to one class.")

    def _require_label_sets(self, min_classes: int) -> None:
        """Training label sets: enough labels, every declared one with an example, and no
        empty set unless the user said rows may have none."""
        from .errors import _rows

        col = self.columns.get("label", "label")
        if not self.allow_empty_labels:
            empty = [i for i, row in enumerate(self.labels) if not row]
            if empty:
                raise DataError(f"{self.source}: label column '{col}' is empty in "
                                f"{_rows(self, empty)}. Label those rows, remove them, or "
                                "say that rows may have no label (--allow-empty-labels).")
        counts = label_counts(self)
        if len(counts) < min_classes:
            raise DataError(f"{self.source}: the label sets hold {len(counts)} label(s) "
                            f"({sorted(map(str, counts))}); a classifier needs at least two.")
        unused = [c for c in self.classes if not counts[c]]
        if unused:
            raise DataError(f"{self.source}: label(s) {', '.join(map(repr, unused[:10]))} "
                            f"have no examples in '{col}'; a model cannot learn a label it "
                            "never sees. Add examples of them, or drop them from the label "
                            "names.")
