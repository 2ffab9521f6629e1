# docgen in a container: the package (installed from this tree as a wheel, with its
# dependencies), Tesseract with the language packs docgen OCRs with, and the fonts the sample
# corpus is drawn with. The same image runs `docgen`, `dask scheduler` and `dask worker`.
#
#   docker build -t docgen .                                   # CPU
#   docker build -t docgen:cuda --build-arg EXTRAS=s3,vllm .   # GPU workers: vLLM's CUDA build
#
#   docker run --rm -v "$PWD/pdfs:/pdfs" -v "$PWD/data:/data" docgen \
#       docgen run --input /pdfs --work /data/work --out /data/out
#
# vLLM's wheels bring their CUDA libraries; the host needs only the NVIDIA driver and container
# toolkit (`docker run --gpus all ...`).
FROM debian:bookworm-slim

ARG EXTRAS=s3
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
       tesseract-ocr tesseract-ocr-osd tesseract-ocr-eng tesseract-ocr-fra tesseract-ocr-deu \
       tesseract-ocr-spa tesseract-ocr-ara tesseract-ocr-chi-sim tesseract-ocr-jpn tesseract-ocr-kor \
       tesseract-ocr-script-arab tesseract-ocr-script-hans tesseract-ocr-script-hang \
       fonts-noto-core \
    && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/docgen
ENV PATH=/opt/docgen/bin:$PATH

# Only what the package is built from, so editing tests or docs does not rebuild this layer.
COPY pyproject.toml README.md /src/
COPY docgen /src/docgen
COPY prompts /src/prompts
COPY pipelines /src/pipelines
RUN pip install --upgrade pip \
    && pip wheel --no-deps --wheel-dir /tmp/dist /src \
    && pip install "$(ls /tmp/dist/docgen-*.whl)[${EXTRAS}]" \
    && rm -rf /src /tmp/dist \
    && docgen --version

WORKDIR /data
CMD ["docgen", "--help"]
