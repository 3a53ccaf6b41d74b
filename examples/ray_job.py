"""A Ray Data job: classify a file of texts with a saved model, one model copy per actor,
and write the input rows with `label` and one `proba_<label>` column per class.

    python examples/quickstart.py                  # writes tickets-model
    python examples/ray_job.py                     # a local Ray cluster on this machine's CPUs
    python examples/ray_job.py --address auto      # the cluster started by `ray start`
"""

import argparse
from pathlib import Path

import ray

from textune.serving.batch import BatchPredictor

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="tickets-model", help="a saved textune model")
    parser.add_argument("--data", default=DATA / "tickets_new.csv", help="CSV, a text column")
    parser.add_argument("--output", default="tickets-predictions", help="folder of Parquet parts")
    parser.add_argument("--actors", type=int, default=2, help="model copies working at once")
    parser.add_argument("--address", default=None, help="a Ray cluster (default: start one)")
    args = parser.parse_args()
    output = Path(args.output).resolve()
    if output.exists() and any(output.iterdir()):
        parser.error(f"--output {output} already holds files; Ray would add to them. Delete "
                     "it or name another folder.")

    ray.init(address=args.address)
    # workers may run in another folder (or on another machine, which needs the same paths)
    model_dir, data = str(Path(args.model_dir).resolve()), str(Path(args.data).resolve())
    ds = ray.data.read_csv(data)
    preds = ds.map_batches(BatchPredictor, fn_constructor_kwargs={"model_dir": model_dir},
                           batch_format="pandas", batch_size=256,
                           # half a CPU per actor leaves CPUs free to read and write
                           num_cpus=0.5, compute=ray.data.ActorPoolStrategy(size=args.actors))
    preds = preds.materialize()  # run the pipeline once; write and show the same rows
    preds.write_parquet(str(output))
    for row in preds.take(10):
        print(f"{row['label']:>9} {row['proba_' + str(row['label'])]:.3f}  {row['text']}")
    print(f"{preds.count()} rows written to {args.output}")
    ray.shutdown()


if __name__ == "__main__":
    main()
