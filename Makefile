# `make run` and `make test` install what they need into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARTIFACTS := artifacts

.PHONY: run test bench lock clean docs

$(BIN)/statsserver: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

run: $(BIN)/statsserver
	$(BIN)/statsserver run

test: $(BIN)/statsserver
	mkdir -p $(ARTIFACTS)
	$(BIN)/python -m pytest

bench: $(BIN)/statsserver
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python benchmarks/collector.py
	$(BIN)/python benchmarks/server.py

# Re-pin requirements.lock after changing the ranges in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade setuptools
	.lock-venv/bin/pip install --quiet -e '.[test]'
	{ echo "# Exact versions that make installs and CI tests; pyproject.toml holds the ranges."; \
	  echo "# Regenerate: make lock"; \
	  .lock-venv/bin/pip freeze --exclude-editable --all | grep -v '^pip=='; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(ARTIFACTS) *.egg-info

# Regenerate the parts of the docs that come from the code (tests/test_docs.py checks them).
docs: $(BIN)/statsserver
	$(BIN)/statsserver settings --example > settings.example.conf
	sed -n '1,/<!-- generated/p' docs/settings.md > docs/settings.md.new
	$(BIN)/statsserver settings --docs >> docs/settings.md.new && mv docs/settings.md.new docs/settings.md
