"""A `setfit` script running on textune: the only change is the import line
(`from setfit import ...` -> `from textune.setfit import ...`). Offline, on a CPU.

    python examples/setfit_dropin.py
    python examples/setfit_dropin.py --shots 4 --output my-setfit-model
"""

import argparse
from pathlib import Path

from datasets import load_dataset

from textune.setfit import SetFitModel, Trainer, TrainingArguments, sample_dataset

DATA = Path(__file__).resolve().parent / "data"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--train", default=str(DATA / "tickets_train.csv"), help="text,label CSV")
parser.add_argument("--test", default=str(DATA / "tickets_test.csv"), help="text,label CSV")
parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2",
                    help="backbone (this hub name resolves offline to the installed MiniLM)")
parser.add_argument("--shots", type=int, default=6, help="training examples per label")
parser.add_argument("--output", default="setfit-tickets-model", help="model folder to write")
cli = parser.parse_args()

# from here on, the setfit 1.x quickstart as its users write it
dataset = load_dataset("csv", data_files={"train": cli.train, "test": cli.test})
train_dataset = sample_dataset(dataset["train"], label_column="label", num_samples=cli.shots)
test_dataset = dataset["test"]

model = SetFitModel.from_pretrained(cli.model)

args = TrainingArguments(
    batch_size=16,
    num_epochs=1,
    output_dir=f"{cli.output}.checkpoints",
)

trainer = Trainer(
    model=model,
    args=args,
    train_dataset=train_dataset,
    eval_dataset=test_dataset,
    metric="accuracy",
)
trainer.train()

metrics = trainer.evaluate(test_dataset)
print(metrics)

model.save_pretrained(cli.output)
model = SetFitModel.from_pretrained(cli.output)
preds = model.predict(["Where is my parcel?", "Why was I charged twice?"])
print(preds)
