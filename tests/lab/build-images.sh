#!/usr/bin/env bash
# Build the lab's images locally; no image registry is needed and nothing is pulled unless asked for.
#
#   tests/lab/build-images.sh            base image (if missing) + EAS emulator + stand-in images
#   tests/lab/build-images.sh --rebuild-base    rebuild the base image too
#
# Base image: LAB_BASE_IMAGE (default python:3.12-slim) is used when it is already present in the engine,
# or when LAB_PULL_BASE=true and it can be pulled. Otherwise a local Debian base with Python 3 is built from
# Debian's packages with mmdebstrap and `docker import`, tagged LAB_LOCAL_BASE (default
# llmops-lab/base:bookworm), and reused by later runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
wanted_base=${LAB_BASE_IMAGE:-python:3.12-slim}
local_base=${LAB_LOCAL_BASE:-llmops-lab/base:bookworm}
suite=${LAB_DEBIAN_SUITE:-bookworm}
rebuild_base=false
[ "${1:-}" = "--rebuild-base" ] && rebuild_base=true

log() { printf 'lab-images: %s\n' "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_local_base() {
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing mmdebstrap from Debian's packages"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    else
      log "mmdebstrap is needed to build the lab base image (Debian: apt-get install mmdebstrap)"
      exit 1
    fi
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "building $local_base from Debian $suite with mmdebstrap"
  mmdebstrap --quiet --variant=apt --include=python3,ca-certificates,wget "$suite" "$tmp/rootfs.tar"
  docker import -c 'CMD ["python3"]' -c 'ENV LANG=C.UTF-8' "$tmp/rootfs.tar" "$local_base" >/dev/null
}

base=""
if have_image "$wanted_base"; then
  base=$wanted_base
elif [ "${LAB_PULL_BASE:-false}" = "true" ] && timeout 120 docker pull -q "$wanted_base" >/dev/null 2>&1; then
  base=$wanted_base
else
  if $rebuild_base || ! have_image "$local_base"; then
    build_local_base
  fi
  base=$local_base
fi
log "base image: $base"

# image directory -> tag
declare -A tags=(
  [eas-emulator]=llmops-lab/eas-emulator:latest
  [one-api]=llmops-lab/one-api:v0.6.6-standin
  [chatgpt-web]=llmops-lab/chatgpt-web:standin
)
for name in eas-emulator one-api chatgpt-web; do
  dockerfile="$here/images/$name/Dockerfile"
  if [ ! -f "$dockerfile" ]; then
    log "skipping $name: $dockerfile does not exist"
    continue
  fi
  docker build -q --build-arg "BASE_IMAGE=$base" -t "${tags[$name]}" -f "$dockerfile" "$here" >/dev/null
  log "built ${tags[$name]}"
done
