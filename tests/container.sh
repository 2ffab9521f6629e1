#!/usr/bin/env bash
# `make container`: build the Dockerfile and check the image: `docgen run` inside it, on three
# sample PDFs, gives the shards a run from this clone gives, byte for byte. Uses docker when its
# daemon answers; else buildah (Debian's, installed when missing), with a debian:bookworm-slim
# base made by debootstrap when no registry serves one. Needs root for buildah.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/pdfs" "$tmp/data"
for f in 0000-invoice-en 0027-report-ar 0044-form-ko; do cp "data/samples/$f.pdf" "$tmp/pdfs/"; done

if docker info >/dev/null 2>&1; then
    docker build -t docgen:check .
    run() { docker run --rm -v "$tmp/pdfs:/pdfs:ro" -v "$tmp/data:/data" docgen:check "$@"; }
else
    export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
    command -v buildah >/dev/null || { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null; }
    if ! buildah inspect --type image debian:bookworm-slim >/dev/null 2>&1 &&
        ! buildah pull -q debian:bookworm-slim >/dev/null 2>&1; then
        echo "no registry serves debian:bookworm-slim: making it with debootstrap"
        debootstrap --variant=minbase bookworm "$tmp/rootfs" http://deb.debian.org/debian >/dev/null
        c=$(buildah from scratch)
        cp -a "$tmp/rootfs/." "$(buildah mount "$c")/"
        buildah commit -q "$c" docker.io/library/debian:bookworm-slim >/dev/null
        buildah rm "$c" >/dev/null
    fi
    # pip inside the build trusts what pip here trusts (a proxy's CA, if any).
    printf '[global]\ncert = /etc/pip-ca.crt\n' > "$tmp/pip.conf"
    buildah bud --network host -v /etc/ssl/certs/ca-certificates.crt:/etc/pip-ca.crt:ro \
        -v "$tmp/pip.conf:/etc/pip.conf:ro" -t docgen:check .
    run() {
        local c; c=$(buildah from docgen:check)
        buildah run -v "$tmp/pdfs:/pdfs:ro" -v "$tmp/data:/data" "$c" -- "$@"
        buildah rm "$c" >/dev/null
    }
fi
run docgen --version
run docgen run --input /pdfs --work /data/work --out /data/out --set run.progress=false
.venv/bin/docgen run --input "$tmp/pdfs" --work "$tmp/work" --out "$tmp/out" \
    --set run.progress=false --scheduler sync >/dev/null
cmp "$tmp/data/out/data/train-00000-of-00001.parquet" "$tmp/out/data/train-00000-of-00001.parquet"
echo "container: the image's shards equal this clone's, byte for byte"
