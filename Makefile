# `make demo`, `make test`, `make bench`: each creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

# One stamp per set of extras: `make bench` adds the baselines' packages, `make test` does not need them.
$(VENV)/.installed-%: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "newsletter needs Python 3.11 or newer (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(subst +,$(comma),$*)]'
	touch $@

comma := ,

demo: $(VENV)/.installed-test
	$(BIN)/newsletter demo

test: $(VENV)/.installed-test
	$(BIN)/pytest

bench: $(VENV)/.installed-test+bench
	$(BIN)/python -m bench.summaries
	$(BIN)/python -m bench.extraction
	$(BIN)/python -m bench.language
	$(BIN)/python -m bench.stories
	$(BIN)/python -m bench.render
	$(BIN)/python -m bench.delivery  # --sizes 10000,100000,1000000 for the full figures
	$(BIN)/python -m bench.smtp
	$(BIN)/python -m bench.audience

clean:
	rm -rf $(VENV) var .pytest_cache
