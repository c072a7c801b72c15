# Every target sets itself up: a fresh machine needs only Python >= 3.11
# (3.11, 3.12 and 3.13 are tested) and, for the book, npm.
# The interpreter for .venv: PYTHON=/path/to/python, else the first of
# python3.11, python3.12, python3.13, python3 on PATH that runs and is >= 3.11.
PYTHON ?= $(shell sh tools/find_pythons.sh --first)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# One BLAS thread: the book's arrays are small (threads only add overhead on
# a 2-core machine) and a fixed thread count keeps floating-point results,
# and so the notebooks' compared outputs, identical from machine to machine.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
# Test files spread over every core, each file in one worker (a notebook's
# cells run in order in one kernel); make test PARALLEL= runs them in one process.
PARALLEL ?= -n auto --dist loadfile
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
# JavaScript the static book serves so saved ipywidgets render offline: the
# ipywidgets HTML manager and require.js, pinned in package-lock.json.
WIDGET_JS := _widget_js/widgets
WIDGET_FILES := $(WIDGET_JS)/embed-amd.js $(WIDGET_JS)/setup.js
HTML_MANAGER := node_modules/@jupyter-widgets/html-manager

.PHONY: help setup venv python-info book test test-unit test-notebooks test-browser test-kernels \
        test-pythons lab execute assignments clean bench

help:
	@echo "make book   build the HTML book into _build/html (warnings are errors)"
	@echo "make test   build the book, then unit tests, every notebook re-executed and"
	@echo "            compared (nbval) and every page checked in Chromium (tests/test_browser.py)"
	@echo "make test-kernels  every chapter re-run under other OpenBLAS kernels ($(KERNELS))"
	@echo "            and with 2 BLAS threads: a compared output that differs fails"
	@echo "make test-pythons  the package tests under every other supported Python found here"
	@echo "make lab    open the chapters in JupyterLab with this project's kernel"
	@echo "make execute  re-execute every chapter in place (after editing one; not the assignments)"
	@echo "make bench  every benchmark in benchmarks/ on its quick grid (BENCH_ARGS= for the full"
	@echo "            grids, several minutes each); the GMM one updates the Performance page's data"
	@echo "make assignments  student versions of book/assignments/source/ (nbgrader) into book/assignments/,"
	@echo "            and an nbgrader course directory with the instructor sources in _build/course"

setup: $(STAMP) $(WIDGET_FILES)

venv: $(STAMP)

# Says which Python the environment uses (or will be made with).
python-info:
	@if [ -x $(BIN)/python ]; then \
	  echo "Python: $(BIN)/python ($$($(BIN)/python -c 'import platform; print(platform.python_version())'))"; \
	elif [ -n "$(PYTHON)" ]; then \
	  echo "Python: $(PYTHON) ($$($(PYTHON) -c 'import platform; print(platform.python_version())')), making $(VENV)"; \
	else \
	  echo "needs Python >= 3.11: none of python3.11, python3.12, python3.13, python3 on PATH runs and"; \
	  echo "is >= 3.11 (or say which: make PYTHON=/path/to/python3.X ...)"; exit 1; \
	fi

$(STAMP): requirements.txt pyproject.toml | python-info
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
	$(BIN)/python -m pytest tests book $(NBVAL) $(PARALLEL)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/test_browser.py --ignore=tests/test_book_serves_no_solutions.py

test-browser: book
	$(BIN)/python -m pytest tests/test_browser.py

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest book $(NBVAL)

# Every chapter re-executed under other OpenBLAS kernels (as on other CPUs) and
# once with 2 BLAS threads; nbval fails on any compared output that differs.
# Each run first checks that OpenBLAS really took the kernel it was given.
KERNELS ?= Haswell SandyBridge
test-kernels: $(STAMP)
	@for kernel in $(KERNELS); do \
	  echo "== chapters under OPENBLAS_CORETYPE=$$kernel, 1 BLAS thread"; \
	  OPENBLAS_CORETYPE=$$kernel $(BIN)/python tools/blas_kernel.py --expect $$kernel || exit 1; \
	  OPENBLAS_CORETYPE=$$kernel $(BIN)/python -m pytest book $(NBVAL) $(PARALLEL) -q -p no:cacheprovider || exit 1; \
	done
	@echo "== chapters with 2 BLAS threads"
	OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 $(BIN)/python tools/blas_kernel.py --expect-threads 2
	OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 $(BIN)/python -m pytest book $(NBVAL) -q -p no:cacheprovider

# The package tests under every other supported Python present on this machine
# (each in its own .venv-3.X); says which ran and which were absent.
test-pythons: $(STAMP)
	sh tools/test_pythons.sh "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# JupyterLab on book/. Its kernel is this environment's Python (the kernel spec
# "python3" runs the server's own interpreter; JUPYTER_PREFER_ENV_PATH puts
# .venv's kernel specs before any in the user's home). As root (most
# containers) Jupyter refuses to start without --allow-root.
# LAB_ARGS adds options, e.g. make lab LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
lab: $(STAMP)
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) book/

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
	rm -rf _build .pytest_cache .hypothesis _widget_js .venv-3.*

# Every benchmark, each printing its ratios against the peer measured in the
# same run. The quick grids by default (BENCH_ARGS= runs the full ones). BLAS
# may use every core here: the GMM benchmark pins its threads itself (one,
# then all cores for its headline case), the HMM one runs with one, the
# others with BLAS's default.
BENCH_ARGS ?= --quick
BENCHMARKS := gmm_vs_sklearn hmm_vs_hmmlearn lda_vs_sklearn lda_recovery missing_em latent_models_vs_sklearn \
              explorer_redraw out_of_core
bench: $(STAMP)
	uptime
	@for b in $(BENCHMARKS); do \
	  echo "== benchmarks/$$b.py $(BENCH_ARGS)"; \
	  env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS $(BIN)/python benchmarks/$$b.py $(BENCH_ARGS) || exit 1; \
	done
