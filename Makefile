# Two commands for a newcomer: `make book` and `make test` (see README.md).
# Both create .venv if needed and install requirements.txt plus the helpers package into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BOOK_FLAGS := --warningiserror --nitpick --keep-going

.PHONY: setup book book-execute test test-portable test-unit test-notebooks lab bench execute lint format clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install everything

book: $(STAMP)  ## build the HTML book from the committed notebook outputs into _build/html
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

book-execute: execute book  ## re-execute every notebook (saving outputs), then build the book

test: $(STAMP) browser  ## the whole suite: unit tests, nbval over every notebook, lint, the book build
	@start=$$(date +%s); \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && \
	$(BIN)/python -m pytest tests chapters --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout 600 --durations=10; \
	rc=$$?; echo "suite time: $$(( $$(date +%s) - start )) s"; exit $$rc

# Headless Chromium for tests/test_browser.py: Debian's chromium and chromium-driver, installed with apt-get when
# missing (as root). Never fails the build: without them the browser tests skip and say how to install them.
.PHONY: browser
browser:  ## install chromium and chromium-driver for the browser tests, if missing
	-@if test -x /usr/bin/chromium && test -x /usr/bin/chromedriver; then :; \
	elif test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver for tests/test_browser.py"; \
	  apt-get install -y chromium chromium-driver || { apt-get update && apt-get install -y chromium chromium-driver; }; \
	else \
	  echo "tests/test_browser.py needs /usr/bin/chromium and /usr/bin/chromedriver and will skip without them;"; \
	  echo "install them with: sudo apt-get install -y chromium chromium-driver (Debian, Ubuntu), then run make test"; \
	fi

# The portable run: every notebook top to bottom on a configuration unlike the default one; it passes when no
# cell raises (every claim holds), whatever digits the cells print (nbval --nbval-lax). The levers: torch's
# CPU threads, ATen's CPU kernels (default = no vectorisation, avx2, avx512) and MKL's instruction set
# (SSE4_2, AVX2, AVX512). CI runs the defaults below, which differ from a plain run in all three.
# PORTABLE_JOBS notebooks run side by side (pytest-xdist, each notebook whole in one worker): with one thread
# per kernel, two at a time use both cores of a 2-core machine, and the run takes about half as long.
PORTABLE_THREADS ?= 1
PORTABLE_ATEN    ?= avx2
PORTABLE_MKL     ?= AVX2
PORTABLE_JOBS    ?= 2
test-portable: $(STAMP)  ## every notebook under another thread count and CPU capability: no cell may raise
	@start=$$(date +%s); \
	OMP_NUM_THREADS=$(PORTABLE_THREADS) ATEN_CPU_CAPABILITY=$(PORTABLE_ATEN) MKL_ENABLE_INSTRUCTIONS=$(PORTABLE_MKL) \
	  $(BIN)/python -m pytest chapters --nbval-lax --nbval-current-env --nbval-cell-timeout 900 -p no:cacheprovider \
	  -n $(PORTABLE_JOBS) --dist loadscope; \
	rc=$$?; echo "portable run time ($(PORTABLE_THREADS) threads, ATen $(PORTABLE_ATEN), MKL $(PORTABLE_MKL)," \
	  "$(PORTABLE_JOBS) notebooks at a time): $$(( $$(date +%s) - start )) s"; exit $$rc

test-unit: $(STAMP)  ## unit tests only (fast)
	$(BIN)/python -m pytest tests -m "not book"

test-notebooks: $(STAMP)  ## nbval over the chapter notebooks only
	$(BIN)/python -m pytest chapters --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg

execute: $(STAMP)  ## re-run every notebook top to bottom in a fresh kernel and save its outputs
	$(BIN)/python tests/execute_notebooks.py

lab: $(STAMP)  ## JupyterLab on the repository (as root too, as in many containers)
	$(BIN)/jupyter lab $$(test "$$(id -u)" = 0 && echo --allow-root)

bench: $(STAMP)  ## training throughput and MFU of helpers vs a bare loop and a lean reference GPT
	$(BIN)/python -m helpers.bench

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

clean:
	rm -rf _build .cache
