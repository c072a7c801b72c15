# Every target sets itself up: a fresh machine needs only Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

.PHONY: help setup book test test-unit test-notebooks lab execute assignments clean

help:
	@echo "make book   build the HTML book into _build/html (warnings are errors)"
	@echo "make test   unit tests, every notebook re-executed and compared (nbval), book build"
	@echo "make lab    open the chapters in JupyterLab with this project's kernel"
	@echo "make execute  re-execute every chapter in place (after editing one)"
	@echo "make assignments  student versions of book/assignments/ (nbgrader) into _build/assignments"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build --warningiserror --keep-going --nitpick .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: book
	$(BIN)/python -m pytest tests book $(NBVAL)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest book $(NBVAL)

lab: $(STAMP)
	$(BIN)/jupyter lab book/

execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 \
	  $$(find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -path '*/_build/*')

# Student versions of the assignments, made by nbgrader itself (see tools/generate_assignments.py)
assignments: $(STAMP)
	$(BIN)/python tools/generate_assignments.py _build/assignments

clean:
	rm -rf _build .pytest_cache .hypothesis
