#!/usr/bin/env bash
# The whole stack in the lab, as a user runs it: check mode on a fresh lab sends no mutating request,
# converge from nothing (the smoke test is part of site.yml), a rerun changes nothing, teardown leaves
# no billed node and no container, and a second teardown changes nothing.
# Names, ports and the lab directory are the test's own, so a running `make demo` stack is left alone.
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

work=$(mktemp -d)
vars="$work/it-vars.yml"
cat >"$vars" <<VARS
lab_dir: $work/lab
lab_docker_network: llmops-it-site
lab_eas_emulator_name: it-site-eas-emulator
lab_eas_emulator_port: 18090
lab_eas_service_ready_seconds: 3
lab_eas_resource_ready_seconds: 2
eas_resource_group_name: it-site-group
eas_service_name: it_site_deepseek
oneapi_project_name: it-site-one-api
oneapi_port: 15101
chatgpt_web_project_name: it-site-chatgpt-web
chatgpt_web_port: 13102
front_door_project_name: it-site-front-door
front_door_https_port: 16044
front_door_http_port: 16081
VARS

play() { # log-name playbook [options]
  local name=$1
  shift
  echo "=== ansible-playbook $*"
  ansible-playbook -i "$coll/inventories/lab" -e "@$vars" "$@" 2>&1 | tee "$work/$name.log"
}

assert_no_changes() {
  if grep -E '^[^ ].*: ok=[0-9]+ +changed=[1-9]' "$work/$1.log"; then
    echo "FAIL: $1 reported changes" >&2
    exit 1
  fi
}

# Changes made by the product's plays, not by the lab's own (which brings the emulator up and down around a
# teardown: that is the lab standing in for the cloud, not a change of the deployment).
assert_no_product_changes() {
  local changed
  changed=$(awk '/^PLAY \[/ { lab = ($0 ~ /lab/) } /^TASK \[/ { task = $0 } /^changed: / && !lab { print task }' "$work/$1.log")
  if [ -n "$changed" ]; then
    printf 'FAIL: %s changed:\n%s\n' "$1" "$changed" >&2
    exit 1
  fi
}

emulator() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen("http://127.0.0.1:18090" + sys.argv[1]).read().decode())' "$1"; }

cleanup() {
  set +e
  ansible-playbook -i "$coll/inventories/lab" -e "@$vars" -e purge=true "$coll/teardown.yml" >"$work/cleanup.log" 2>&1
  docker rm -f it-site-eas-emulator >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# 1. --check on a fresh lab: no mutating request reaches the emulator, nothing is deployed
play check-fresh "$coll/site.yml" --check --diff
emulator /_lab/requests >"$work/requests.json"
python3 - "$work/requests.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
reqs = data.get("requests", data) if isinstance(data, dict) else data
writes = [r for r in reqs if r.get("method") in ("POST", "PUT", "DELETE", "PATCH") and not r.get("path", "").startswith("/_lab")]
assert not writes, "check mode sent mutating requests: %s" % writes
print("check mode: %d requests to the emulator, none mutating" % len(reqs))
PY
if docker ps -a --format '{{.Names}}' | grep -E '^it-site-(one-api|chatgpt-web)'; then
  echo "FAIL: check mode started gateway containers" >&2
  exit 1
fi

# 2. bad input for a gateway role fails before anything is created or billed
if ansible-playbook -i "$coll/inventories/lab" -e "@$vars" -e chatgpt_web_auth_secret_key=short \
  "$coll/site.yml" >"$work/bad-input.log" 2>&1; then
  echo "FAIL: a 5-character chatgpt_web_auth_secret_key was accepted" >&2
  exit 1
fi
grep -q 'chatgpt_web_auth_secret_key' "$work/bad-input.log"
emulator /_lab/requests >"$work/requests.json"
python3 - "$work/requests.json" <<'PY'
import json, sys
reqs = json.load(open(sys.argv[1]))["requests"]
writes = [r for r in reqs if r.get("method") in ("POST", "PUT", "DELETE", "PATCH") and not r.get("path", "").startswith("/_lab")]
assert not writes, "bad input still created something: %s" % writes
print("bad input refused before any EAS write")
PY

# 3. converge from nothing; site.yml ends with the smoke test
play converge "$coll/site.yml"
grep -q 'Chat through the whole stack' "$work/converge.log"

# 4. a second run changes nothing
play rerun "$coll/site.yml"
assert_no_changes rerun

# 5. teardown: nothing billed, no container left; again: nothing changes
play teardown "$coll/teardown.yml" -e purge=true
if docker ps -a --format '{{.Names}}' | grep -E '^it-site-'; then
  echo "FAIL: containers left after teardown" >&2
  exit 1
fi
play teardown-again "$coll/teardown.yml" -e purge=true
assert_no_product_changes teardown-again
echo "site_lab: OK"
