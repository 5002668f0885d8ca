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

# 4. a second run changes nothing, writes nothing, and reads each managed object once: the group and its nodes, the
#    service (ListServices plans the catalog, DescribeService gives the endpoint and token), the region's offer (the
#    pre-flight), one-api's channel and token; no channel test (nothing changed), no write to one-api
before=$(emulator /_lab/requests/summary | python3 -c 'import json, sys; print(json.load(sys.stdin)["next"])')
since=$(date +%s)
play rerun "$coll/site.yml"
assert_no_changes rerun
emulator "/_lab/requests/summary?since=$before" >"$work/rerun-eas.json"
docker logs --since "$since" it-site-one-api-one-api-1 >"$work/rerun-oneapi.log" 2>&1
python3 - "$work/rerun-eas.json" "$work/rerun-oneapi.log" <<'PY'
import collections, json, re, sys
summary = json.load(open(sys.argv[1]))
assert summary["writes"] == 0, "the rerun wrote to EAS: %s" % summary
reads = summary["by_action"]
over = dict((action, n) for action, n in reads.items() if n > 1)
assert not over, "the rerun read an EAS object more than once: %s" % reads
calls = re.findall(r'"(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP/', open(sys.argv[2]).read())
per_path = collections.Counter("%s %s" % (m, p.split("?")[0]) for m, p in calls)
assert per_path["GET /api/channel/search"] <= 1 and per_path["GET /api/token/search"] <= 1, per_path
assert not any(p.startswith("GET /api/channel/test") for p in per_path), "a channel was tested again: %s" % per_path
oneapi_writes = [p for p in per_path if not p.startswith("GET") and p not in ("POST /api/user/login", "POST /v1/chat/completions")]
assert not oneapi_writes, "the rerun wrote to one-api: %s" % oneapi_writes
print("rerun: EAS reads %s, no write; one-api %s" % (dict(reads), dict(per_path)))
PY

# 5. teardown: nothing billed, no container left; again: nothing changes
play teardown "$coll/teardown.yml" -e purge=true
if docker ps -a --format '{{.Names}}' | grep -E '^it-site-'; then
  echo "FAIL: containers left after teardown" >&2
  exit 1
fi
play teardown-again "$coll/teardown.yml" -e purge=true
assert_no_product_changes teardown-again
echo "site_lab: OK"
