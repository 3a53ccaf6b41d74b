"""Classify texts with a running `textune serve`, twice: with plain HTTP (httpx) on textune's
`/v1/classify`, and with the Hugging Face client (`huggingface_hub.InferenceClient`), which
talks to the server as it talks to the Inference API. Needs only httpx and huggingface_hub.

    python examples/quickstart.py                         # writes tickets-model
    textune serve tickets-model --port 8000 --api-key s3cret &
    python examples/http_client.py --url http://127.0.0.1:8000 --api-key s3cret
"""

import argparse
import csv
import os
from pathlib import Path

# HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1), set for loading models offline, makes
# huggingface_hub refuse every request, even to a server on this machine; this script talks
# only to --url.
for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(variable, None)

import httpx  # noqa: E402 (after the environment is set)
from huggingface_hub import InferenceClient  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's address")
    parser.add_argument("--api-key", default=os.environ.get("TEXTUNE_API_KEY"),
                        help="the server's --api-key (default: $TEXTUNE_API_KEY)")
    parser.add_argument("--data", default=DATA / "tickets_new.csv", help="CSV, a text column")
    args = parser.parse_args()
    with open(args.data, newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}

    # 1. textune's own API: one request for all texts, every label's probability back
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as http:
        labels = http.get("/v1/model").raise_for_status().json()["labels"]
        print(f"model labels: {labels}")
        answers = http.post("/v1/classify", json={"texts": texts}).raise_for_status().json()
    for text, answer in zip(texts, answers):
        label = answer["label"]
        print(f"httpx            {label:>9} {answer['probabilities'][str(label)]:.3f}  {text}")

    # 2. the Hugging Face client, unchanged: the server answers the Inference API's shape
    client = InferenceClient(model=args.url, token=args.api_key)
    for text in texts:
        best = client.text_classification(text, top_k=2)
        print(f"InferenceClient  {best[0].label:>9} {best[0].score:.3f}  {text}"
              f"  (runner-up: {best[1].label} {best[1].score:.3f})")


if __name__ == "__main__":
    main()
