#!/usr/bin/env bash
# The reliability suite in the lab (reliability_suite/, see the README's Reliability section): injected EAS API faults
# during a cold run, kills of cold runs (SIGINT, SIGKILL, a create in flight), a 2 x 60 s API outage mid-wait, a
# teardown started during a deploy, wrong inputs refused before any write, -vvv output scanned for every secret, and
# the published ports and secret files of a deployment. Its own names (it-rel-*) and host ports (19000-19099), so a
# running `make demo` or another test is left alone. It ends with the figures.
set -euo pipefail

coll=""
IFS=: read -r -a paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${paths[@]}"; do
  if [ -d "$p/ansible_collections/llmops/eas_stack" ]; then
    coll="$p/ansible_collections/llmops/eas_stack"
    break
  fi
done
[ -n "$coll" ] || { echo "llmops.eas_stack not found in ANSIBLE_COLLECTIONS_PATH" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}" -m reliability_suite \
  --collection "$coll" --work "$work"
