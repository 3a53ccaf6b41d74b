"""Quickstart: train a classifier on 24 support tickets, score it, save it, reload it and
classify new tickets. Runs offline on a CPU in seconds.

    python examples/quickstart.py                      # MiniLM (the default backbone)
    python examples/quickstart.py --output my-tickets  # where the model folder goes
"""

import argparse
import logging
from pathlib import Path

from textune import TextClassifier, load_examples

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=DATA / "tickets_train.csv", help="text,label CSV")
    parser.add_argument("--test", default=DATA / "tickets_test.csv", help="text,label CSV")
    parser.add_argument("--new", default=DATA / "tickets_new.csv", help="a text-only CSV")
    parser.add_argument("--model", default="minilm", help="backbone: short name or folder")
    parser.add_argument("--output", default="tickets-model", help="model folder to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    # 6 tickets per class, 4 classes (shipping, billing, bug, account): SetFit-style training
    train = load_examples(args.train)
    clf = TextClassifier(method="setfit", model=args.model, seed=0).fit(train)

    report = clf.evaluate(load_examples(args.test))
    print(f"accuracy {report['accuracy']:.3f}  macro-F1 {report['f1_macro']:.3f}")

    # the saved folder is safetensors + JSON; `textune predict/serve` read it too
    clf.save(args.output)
    clf = TextClassifier.load(args.output)
    print(f"saved to {args.output}; labels {clf.classes_.tolist()}")

    new = load_examples(args.new, require_labels=False)
    for text, label in zip(new.texts, clf.predict(new)):
        print(f"{label:>9}  {text}")


if __name__ == "__main__":
    main()
