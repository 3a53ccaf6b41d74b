"""The label kinds users have, put on real news topics (conftest's `bbc_news4`, `bbc_news5`).

Binary-only fixtures once passed while every 3+-class model reloaded scrambled, and labels
that happen to sort the way they were first seen hide order bugs. So a test relabels the same
articles as

    "strings"  topic names, first seen sports, business, tech, politics, entertainment (not sorted)
    "ints"     integers, first seen 3, 1, 0, 2, 4
    "digits"   digit strings whose text order differs from their numeric order
               ("007" < "1" < "10" < "2" < "7"), two of them the same number ("007", "7")
    "binary"   two topics only

    from tests.labels import relabel
    train, test = (relabel(part, "digits") for part in bbc_news5)
"""

from textune import Examples

NEWS_TOPICS = ("sports", "business", "tech", "politics", "entertainment")  # first-seen order
LABEL_KINDS = {
    "binary": {"sports": "sports", "business": "business"},
    "strings": {t: t for t in NEWS_TOPICS},
    "ints": {"sports": 3, "business": 1, "tech": 0, "politics": 2, "entertainment": 4},
    "digits": {"sports": "10", "business": "2", "tech": "007", "politics": "7",
               "entertainment": "1"},
}


def labels_of(kind: str, topics=NEWS_TOPICS) -> list:
    """The labels `relabel(..., kind)` gives these topics, in the topics' order (topics the
    kind leaves out, as "binary" does, are left out here too)."""
    mapping = LABEL_KINDS[kind]
    return [mapping[t] for t in topics if t in mapping]


def as_pair(text: str) -> tuple[str, str]:
    """An article as a (headline, opening) pair."""
    head, _, body = text.partition("\n")
    return head.strip(), body.strip()[:300] or head


def relabel(ex: Examples, kind: str, *, pairs: bool = False) -> Examples:
    """`ex` (labelled with topic names) with the labels of `kind`, rows in the same order;
    rows whose topic the kind leaves out are dropped. `pairs=True` splits each article into
    (headline, opening) text pairs."""
    mapping = LABEL_KINDS[kind]
    idx = [i for i, y in enumerate(ex.labels) if y in mapping]
    texts = [ex.texts[i] for i in idx]
    split = [as_pair(t) for t in texts]
    return Examples(texts=[a for a, _ in split] if pairs else texts,
                    text_pairs=[b for _, b in split] if pairs else None,
                    labels=[mapping[ex.labels[i]] for i in idx])
