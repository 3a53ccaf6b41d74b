"""Train on one process or many with the same code: `accelerate launch` starts N copies of
this script, each trains on its share of every batch and the gradients are averaged (DDP).

    python examples/train.py                                           # one process
    accelerate launch --multi_gpu --num_processes 2 examples/train.py  # two processes
    accelerate launch --multi_gpu --num_processes 2 examples/train.py --method finetune

Two processes use two GPUs, or two CPU processes (gloo) where there is no GPU.
"""

import argparse
import logging
from pathlib import Path

from accelerate import PartialState

from textune import TextClassifier, load_examples

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=DATA / "tickets_train.csv", help="text,label CSV")
    parser.add_argument("--test", default=DATA / "tickets_test.csv", help="text,label CSV")
    parser.add_argument("--method", default="setfit", help="setfit, probe, finetune or peft")
    parser.add_argument("--model", default="minilm", help="backbone: short name or folder")
    parser.add_argument("--epochs", type=int, default=None, help="default: the method's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="tickets-model-ddp", help="model folder to write")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    # every process runs the same lines: reading, training, saving
    train = load_examples(args.train)
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    clf = TextClassifier(method=args.method, model=args.model, seed=args.seed, **epochs)
    clf.fit(train)
    clf.save(args.output)  # only the main process writes; every process waits for it

    # ask for the process group after fit: training joins the processes (over gloo where there
    # is no GPU); without a GPU a PartialState() made before fit leaves each one training alone
    state = PartialState()
    if state.is_main_process:
        report = clf.evaluate(load_examples(args.test))
        print(f"trained {args.method} on {state.num_processes} process(es) in "
              f"{clf.train_seconds_:.1f} s; saved to {args.output}")
        print(f"accuracy {report['accuracy']:.3f}  macro-F1 {report['f1_macro']:.3f}")


if __name__ == "__main__":
    main()
