#!/usr/bin/env bash
# The built collection holds only collection content, and what it holds works once installed.
set -euo pipefail
trap 'echo "collection_build: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

coll=""
IFS=: read -r -a paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${paths[@]}"; do
  if [ -d "$p/ansible_collections/llmops/eas_stack" ]; then
    coll="$p/ansible_collections/llmops/eas_stack"
    break
  fi
done
[ -n "$coll" ] || { echo "llmops.eas_stack not found in ANSIBLE_COLLECTIONS_PATH" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build --output-path "$work" "$coll" >/dev/null
tarball=$(ls "$work"/llmops-eas_stack-*.tar.gz)
tar -tzf "$tarball" | sed 's#^\./##' | sort >"$work/contents"

# 1. only collection content at the top level
unexpected=$(awk -F/ '{print $1}' "$work/contents" | sort -u |
  grep -vxE 'MANIFEST.json|FILES.json|README.md|COPYING|requirements.txt|meta|plugins|roles|docs|changelogs' || true)
if [ -n "$unexpected" ]; then
  echo "FAIL: the tarball holds more than the collection: $unexpected" >&2
  exit 1
fi
# 2. nothing of the deployment, the lab or the tests anywhere, and no bytecode
if grep -E '(^|/)(tests|inventories|playbooks|__pycache__)(/|$)|\.pyc$|(^|/)(site|teardown)\.yml$|ansible\.cfg$' "$work/contents"; then
  echo "FAIL: deployment, lab, test or bytecode files in the tarball" >&2
  exit 1
fi
# 3. what users need is there
for f in meta/runtime.yml plugins/modules/eas_service.py plugins/module_utils/module_base.py \
  plugins/filter/eas_sizing.py roles/eas_model/meta/argument_specs.yml roles/oneapi/tasks/main.yml \
  roles/chatgpt_web/tasks/smoke.yml roles/compose_stack/tasks/up.yml; do
  grep -qx "$f" "$work/contents" || { echo "FAIL: $f is missing from the tarball" >&2; exit 1; }
done
# 4. installed from the tarball (no network: its dependency community.docker is already on this machine),
#    the documentation of a module, a role and a filter loads
export ANSIBLE_COLLECTIONS_PATH="$work/installed" ANSIBLE_NOCOLOR=1
ansible-galaxy collection install --no-deps -p "$work/installed" "$tarball" >/dev/null
installed="$work/installed/ansible_collections/llmops/eas_stack"
# Outside the collection tree and without ansible-test's playbook directory, so the installed copy is the one found.
cd "$work"
unset ANSIBLE_PLAYBOOK_DIR ANSIBLE_CONFIG
# (the whole output is read first: grep -q closing the pipe early would fail the pipeline under pipefail)
grep -qF "$installed/plugins/modules/eas_service.py" <<<"$(ansible-doc llmops.eas_stack.eas_service)"
grep -qF 'ENTRY POINT: *validate*' <<<"$(ansible-doc -t role llmops.eas_stack.oneapi)"
grep -qF "$installed/plugins/filter/eas_model_fit.yml" <<<"$(ansible-doc -t filter llmops.eas_stack.eas_model_fit)"
echo "collection_build: $(wc -l <"$work/contents") entries, only collection content; installs and documents itself"
