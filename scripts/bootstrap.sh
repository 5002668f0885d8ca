#!/usr/bin/env bash
# Prepare what `make demo` / `make test` need and is missing, reusing what is there:
#   - a virtualenv (.venv) with requirements.txt (and tests/requirements.txt with --test),
#   - the collection resolvable from this working tree (.collections/ansible_collections/llmops/eas_stack),
#   - a running Docker engine with the compose v2 plugin (scripts/docker-engine.sh).
# Safe to run again: pip runs only when a requirements file changed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${VENV:-$root/.venv}
with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true

log() { printf 'bootstrap: %s\n' "$*" >&2; }

pick_python() {
  local candidate
  if [ -n "${PYTHON:-}" ]; then
    echo "$PYTHON"
    return
  fi
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing python3-venv from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    command -v python3
    return
  fi
  log "need Python >= 3.11 with venv; install it and run again"
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python)
  log "creating $venv with $py"
  "$py" -m venv "$venv"
fi

# pip runs only when a requirements file changed since the last install into this venv
install_if_changed() {
  local name=$1 file=$2 stamp want
  stamp="$venv/.installed-$name.sha256"
  want=$(sha256sum <"$file" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
    return 0
  fi
  log "installing ${file#"$root"/} into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$file"
  echo "$want" >"$stamp"
}
install_if_changed runtime "$root/requirements.txt"
if $with_tests; then
  install_if_changed test "$root/tests/requirements.txt"
  # ansible-test's shellcheck sanity test is skipped (and reported as skipped) without it.
  if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing shellcheck from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; } ||
      log "shellcheck could not be installed; its sanity test will be reported as skipped"
  fi
fi

# ansible-playbook run from this tree resolves llmops.eas_stack.* from the tree itself (ansible.cfg points here).
mkdir -p "$root/.collections/ansible_collections/llmops"
ln -sfn ../../.. "$root/.collections/ansible_collections/llmops/eas_stack"

VENV="$venv" "$here/docker-engine.sh"
