"""What a trained classifier is at inference: backbones and how they are resolved, the sentence
encoder, heads, adapters, and the three model kinds a `TextClassifier` wraps (`embedding`,
`sequence`, `generative`), each with its own save/load. Training lives in `methods/`."""
