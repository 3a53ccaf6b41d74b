"""textune: a good text classifier from a handful of labelled texts, fast, on a CPU."""

__version__ = "0.3.0"

from .data import DataError, Examples, from_lists, load_examples  # noqa: E402
from .data.sampling import sample_per_class, split  # noqa: E402


def __getattr__(name):  # the classifier pulls in torch; import it only when asked
    if name == "TextClassifier":
        from .classifier import TextClassifier

        return TextClassifier
    raise AttributeError(name)


__all__ = ["TextClassifier", "Examples", "DataError", "load_examples", "from_lists",
           "sample_per_class", "split", "__version__"]
