# Two commands for a newcomer: `make dataset` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= pipelines/default.yaml
PDFS ?=
SAMPLES := data/samples
# Arabic sample PDFs want Debian's Noto Sans Arabic; installed when we are root and it is missing.
ARABIC_FONT := /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dataset test lint samples fonts clean

$(BIN)/docgen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/docgen
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

fonts:
	@if [ ! -f $(ARABIC_FONT) ] && command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-core >/dev/null; \
	fi

# The marker is written last, so an interrupted generation is redone rather than half-used.
$(SAMPLES)/.complete: | $(BIN)/docgen fonts
	$(BIN)/docgen samples --out $(SAMPLES)
	touch $@

samples: $(SAMPLES)/.complete

# `make dataset` runs the bundled samples; `make dataset PDFS=dir` runs your own folder.
ifeq ($(strip $(PDFS)),)
dataset: $(SAMPLES)/.complete
	$(BIN)/docgen run $(CONFIG) --set input=$(SAMPLES)
else
dataset: $(BIN)/docgen
	$(BIN)/docgen run $(CONFIG) --set input=$(PDFS)
endif

test: $(VENV)/.dev fonts
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check docgen tests
	$(BIN)/ruff format --check docgen tests

clean:
	rm -rf data/work data/out
