# Every target sets itself up: a fresh machine needs only Python 3.11.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# One BLAS thread: the book's arrays are small (threads only add overhead on
# a 2-core machine) and a fixed thread count keeps floating-point results,
# and so the notebooks' compared outputs, identical from machine to machine.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# JavaScript the static book serves so saved ipywidgets render offline: the
# ipywidgets HTML manager and require.js, pinned in package-lock.json.
WIDGET_JS := _widget_js/widgets
WIDGET_FILES := $(WIDGET_JS)/embed-amd.js $(WIDGET_JS)/setup.js
HTML_MANAGER := node_modules/@jupyter-widgets/html-manager

.PHONY: help setup book test test-unit test-notebooks test-browser lab execute assignments clean

help:
	@echo "make book   build the HTML book into _build/html (warnings are errors)"
	@echo "make test   build the book, then unit tests, every notebook re-executed and"
	@echo "            compared (nbval) and every page checked in Chromium (tests/test_browser.py)"
	@echo "make lab    open the chapters in JupyterLab with this project's kernel"
	@echo "make execute  re-execute every chapter in place (after editing one; not the assignments)"
	@echo "make assignments  student versions of book/assignments/source/ (nbgrader) into book/assignments/,"
	@echo "            and an nbgrader course directory with the instructor sources in _build/course"

setup: $(STAMP) $(WIDGET_FILES)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or: make PYTHON=/path/to/python3.11 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

$(WIDGET_JS)/embed-amd.js: package.json package-lock.json
	@command -v npm >/dev/null || { echo "needs npm (Node.js) on PATH to fetch the widget JavaScript"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(WIDGET_JS)
	cp $(HTML_MANAGER)/dist/embed-amd.js $(HTML_MANAGER)/dist/*.woff2 $(HTML_MANAGER)/dist/*.woff \
	   $(HTML_MANAGER)/dist/*.ttf $(HTML_MANAGER)/dist/*.eot $(HTML_MANAGER)/dist/*.svg $(WIDGET_JS)/
	cp node_modules/requirejs/require.js $(WIDGET_JS)/require.js

$(WIDGET_JS)/setup.js: _ext/widgets-setup.js
	mkdir -p $(WIDGET_JS) && cp $< $@

book: $(STAMP) $(WIDGET_FILES)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build --warningiserror --keep-going --nitpick .
	@echo "Book built: $(CURDIR)/_build/html/index.html"

test: book
	$(BIN)/python -m pytest tests book $(NBVAL)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/test_browser.py --ignore=tests/test_book_serves_no_solutions.py

test-browser: book
	$(BIN)/python -m pytest tests/test_browser.py

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest book $(NBVAL)

lab: $(STAMP)
	$(BIN)/jupyter lab book/

execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	  --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.timeout=600 \
	  $$(find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -path '*/_build/*' \
	     -not -path 'book/assignments/*')

# Student versions of the assignments, made by nbgrader itself from the
# instructor sources (see tools/generate_assignments.py and book/instructors.md)
assignments: $(STAMP)
	$(BIN)/python tools/generate_assignments.py

clean:
	rm -rf _build .pytest_cache .hypothesis _widget_js
