# `make run` and `make test` install what they need into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARTIFACTS := artifacts
# The web app is built into the package; it is rebuilt when its sources change.
WEB_DIST := statsserver/web/dist/index.html
WEB_MODULES := web/node_modules/.package-lock.json
WEB_SOURCES := $(wildcard web/src/*) web/build.mjs web/icons.mjs web/package.json
CHROMIUM := /usr/bin/chromium

.PHONY: run test bench lock clean docs web reliability

$(BIN)/statsserver: pyproject.toml setup.py requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(WEB_MODULES): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEB_DIST): $(WEB_MODULES) $(WEB_SOURCES)
	cd web && npm run build

web: $(WEB_DIST)

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

run: $(WEB_DIST) $(BIN)/statsserver
	$(BIN)/statsserver run

test: $(WEB_DIST) $(BIN)/statsserver $(CHROMIUM)
	mkdir -p $(ARTIFACTS)
	$(BIN)/python -m pytest

# The reliability scenarios (tests/reliability, also part of `make test`), then their table in
# docs/reliability.md.
reliability: $(WEB_DIST) $(BIN)/statsserver $(CHROMIUM)
	mkdir -p $(ARTIFACTS)
	$(BIN)/python -m pytest tests/reliability
	$(BIN)/python -m tests.reliability.report

bench: $(WEB_DIST) $(BIN)/statsserver $(CHROMIUM)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python benchmarks/collector.py
	$(BIN)/python benchmarks/server.py
	$(BIN)/python benchmarks/storage.py
	$(BIN)/python benchmarks/webapp.py

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
	rm -rf $(VENV) $(ARTIFACTS) *.egg-info statsserver/web/dist web/node_modules

# Regenerate the parts of the docs that come from the code (tests/test_docs.py checks them).
docs: $(BIN)/statsserver
	$(BIN)/statsserver settings --example > settings.example.conf
	sed -n '1,/<!-- generated/p' docs/settings.md > docs/settings.md.new
	$(BIN)/statsserver settings --docs >> docs/settings.md.new && mv docs/settings.md.new docs/settings.md
