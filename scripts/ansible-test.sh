#!/usr/bin/env bash
# Run ansible-test on a copy of this working tree laid out as ansible_collections/llmops/eas_stack,
# beside the collections it depends on (taken from the venv's `ansible` package), fully offline.
#
#   scripts/ansible-test.sh sanity [ansible-test options]
#   scripts/ansible-test.sh units  [ansible-test options]
#   scripts/ansible-test.sh integration [ansible-test options]
#
# The copy holds the files git tracks plus the untracked files it does not ignore, so what runs is what
# would be committed. ansible-test's offline pip bootstrap shim is put in its cache first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${VENV:-$root/.venv}
work=${ANSIBLE_TEST_WORKDIR:-$root/.cache/ansible-test}
dest=$work/ansible_collections/llmops/eas_stack
py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# Offline pip bootstrap: ansible-test downloads get-pip-<version>.py unless it finds it in its cache.
pip_version=$("$venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
print(re.search(r"pip='([0-9.]+)'", src.read_text()).group(1))
PY
)
shim="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$shim" ]; then
  mkdir -p "$(dirname "$shim")"
  cat >"$shim" <<'PY'
"""Offline stand-in for get-pip.py: bootstrap pip from ensurepip, then install the requested packages."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
PY
fi

# Fresh copy of the collection content (ANSIBLE_TEST_REUSE_COPY=true reuses the last one).
if [ "${ANSIBLE_TEST_REUSE_COPY:-false}" != "true" ] || [ ! -d "$dest/.git" ]; then
  rm -rf "$dest"
  mkdir -p "$dest" "$work/ansible_collections/community"
  (cd "$root" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$dest"
  # ansible-test needs git-ignored paths to stay out; give the copy the same .gitignore semantics by
  # making it a throw-away git repository with every copied file tracked.
  # Local settings for integration targets (git-ignored), e.g. oneapi_it_image to test against upstream images.
  if [ -f "$root/tests/integration/integration_config.yml" ]; then
    cp "$root/tests/integration/integration_config.yml" "$dest/tests/integration/"
  fi
  (cd "$dest" && git init -q && git add -A && git -c user.name=ansible-test -c user.email=ansible-test@localhost commit -qm snapshot)
fi

# Dependencies from the venv's `ansible` package.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for dep in community/docker community/library_inventory_filtering_v1; do
  if [ -d "$site/ansible_collections/$dep" ]; then
    ln -sfn "$site/ansible_collections/$dep" "$work/ansible_collections/$dep"
  fi
done

cd "$dest"
export PATH="$venv/bin:$PATH"
cmd=$1
shift
exec ansible-test "$cmd" --python "$py" "$@"
