#!/usr/bin/env bash
# The model catalog in the lab, as a user runs it (the root site.yml and the product's teardown, lab inventory):
#   1. bad input is refused before any write (the EAS emulator's request log is read): two entries with one alias, two
#      with one service name, an entry that does not fit its GPU;
#   2. a catalog of two models on two instance types converges; each alias answers from its served model; a rerun
#      changes nothing;
#   3. a blue/green change, first in check mode (no write), then under a steady chat load through one-api: no failed
#      request, the old service receives no request after the handover and before its deletion, its node bills only
#      for the overlap; a rerun changes nothing;
#   4. a blue/green change whose new service fails: the run fails with the cause while the old generation serves;
#      the fixed catalog resumes the change;
#   5. a third model in a group it shares with the second: a blue/green change there without room is refused before any
#      write, naming the node to add and the rolling update;
#   6. removing that model deletes its service and channel and scales the shared group back; a rerun changes nothing;
#   7. the teardown removes every service, channel and node of the catalog.
# Names, ports and the lab directory are the test's own (it-cat-*, 18070-18074).
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
files=$(cd "$(dirname "$0")/files" && pwd)

work=$(mktemp -d)
# ansible-test passes no LAB_IMAGE_PREFIX: a lab image set of one's own (lab_image_prefix) is named in the git-ignored
# tests/integration/integration_config.yml, as oneapi_it_image is for the one-api targets.
config=()
if [ -f "$coll/tests/integration/integration_config.yml" ]; then
  config=(-e "@$coll/tests/integration/integration_config.yml")
fi
emu=http://127.0.0.1:18070
oneapi=http://127.0.0.1:18071
check() { python3 "$files/catalog_check.py" "$@"; }

cat >"$work/it-vars.yml" <<VARS
lab_dir: $work/lab
lab_docker_network: llmops-it-cat
lab_eas_emulator_name: it-cat-eas-emulator
lab_eas_emulator_port: 18070
lab_eas_service_ready_seconds: 2
lab_eas_resource_ready_seconds: 1
eas_catalog_name: it-cat
eas_resource_group_name: it-cat-unused
oneapi_project_name: it-cat-one-api
oneapi_port: 18071
chatgpt_web_project_name: it-cat-chatgpt-web
chatgpt_web_port: 18072
front_door_project_name: it-cat-front-door
front_door_https_port: 18073
front_door_http_port: 18074
oneapi_test_channel_retries: 15
oneapi_test_channel_delay: 2
VARS

# catalog NAME [python statements editing `models`]: write $work/NAME.yml from the two-model catalog.
catalog() {
  python3 - "$work/$1.yml" "${2:-}" <<'PY'
import json, sys
models = [
    dict(service_name='it_cat_small', model='DeepSeek-R1-Distill-Qwen-1.5B', instance_type='ecs.gn7i-c8g1.2xlarge',
         aliases=['gpt-4-32k'], default=True, change_strategy='blue_green'),
    dict(service_name='it_cat_big', model='DeepSeek-R1-Distill-Qwen-7B', instance_type='ecs.gn6e-c12g1.3xlarge',
         aliases=['it-cat-7b', 'it-cat-large']),
]
exec(sys.argv[2])
with open(sys.argv[1], 'w') as handle:
    json.dump({'eas_models': models}, handle)
PY
}

play() { # log-name playbook [options]
  local name=$1
  shift
  echo "=== $name: ansible-playbook $*"
  local rc=0
  # One line per result (the YAML format folds long messages): the checks below search the output.
  ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible-playbook -i "$coll/inventories/lab" -e "@$work/it-vars.yml" "${config[@]}" "$@" \
    >"$work/$name.log" 2>&1 || rc=$?
  grep -A3 '^PLAY RECAP' "$work/$name.log" | tail -n 2
  [ "$rc" -eq 0 ] || grep -E -B2 -A12 '^(fatal|failed):' "$work/$name.log" | head -n 40
  return $rc
}

assert_no_changes() {
  if grep -E '^[^ ].*: ok=[0-9]+ +changed=[1-9]' "$work/$1.log"; then
    awk '/^TASK \[/ { task = $0 } /^changed: / { print task }' "$work/$1.log" >&2
    echo "FAIL: $1 reported changes" >&2
    exit 1
  fi
}

refused() { # log-name catalog message...
  local name=$1 cat=$2 since
  shift 2
  since=$(check "$emu" next)
  if play "$name" "$coll/site.yml" -e "@$work/$cat.yml"; then
    echo "FAIL: $name was accepted" >&2
    exit 1
  fi
  for message in "$@"; do
    grep -qF -- "$message" "$work/$name.log" || { echo "FAIL: $name: no '$message' in the output" >&2; tail -n 30 "$work/$name.log" >&2; exit 1; }
  done
  check "$emu" no-writes "$since"
}

load_start() { # alias
  rm -f "$work/stop" "$work/load.json"
  python3 "$files/chat_load.py" "$oneapi" "$sk" "$1" 4 "$work/stop" "$work/load.json" 600 >"$work/load.out" 2>&1 &
  load_pid=$!
}

load_stop() { # prints the load's summary, fails on a failed request
  touch "$work/stop"
  wait "$load_pid"
  cat "$work/load.json"
  echo
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["failed"] == 0 and d["ok"] > 0 else 1)' \
    "$work/load.json" || { echo "FAIL: requests failed during the change" >&2; exit 1; }
}

cleanup() {
  set +e
  [ -n "${load_pid:-}" ] && touch "$work/stop" && wait "$load_pid" 2>/dev/null
  ansible-playbook -i "$coll/inventories/lab" -e "@$work/it-vars.yml" "${config[@]}" -e purge=true "$coll/teardown.yml" \
    >"$work/cleanup.log" 2>&1
  docker rm -f it-cat-eas-emulator >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# 1. bad input, on a fresh lab
play lab-up "$coll/tests/lab/playbooks/lab_up.yml"
catalog two-aliases "models[1]['aliases'] = ['it-cat-7b', 'gpt-4-32k']"
refused alias two-aliases 'eas_models[0] and eas_models[1] both list the alias gpt-4-32k'
catalog two-names "models[1]['service_name'] = 'it_cat_small'"
refused names two-names 'both have service_name=it_cat_small'
catalog no-fit "models[1]['instance_type'] = 'ecs.gn7i-c8g1.2xlarge'; models[1]['max_model_len'] = 131072"
refused fit no-fit 'eas_models[1] (it_cat_big)' 'does not fit' 'eas_models[1].max_model_len <='

# 2. two models on two instance types
catalog two
play converge "$coll/site.yml" -e "@$work/two.yml"
sk=$(check "$oneapi" key "$work/lab/secrets/oneapi_root_password")
check "$oneapi" answers "$sk" gpt-4-32k=DeepSeek-R1-Distill-Qwen-1.5B it-cat-7b=DeepSeek-R1-Distill-Qwen-7B \
  it-cat-large=DeepSeek-R1-Distill-Qwen-7B
check "$emu" billing it_cat_small=1 it_cat_big=1
play rerun "$coll/site.yml" -e "@$work/two.yml"
assert_no_changes rerun

# 3. blue/green change of the small model's vLLM arguments under a steady load through one-api (first in check mode:
#    no write)
catalog changed "models[0]['vllm_extra_args'] = ['--enable-prefix-caching']"
since=$(check "$emu" next)
play blue-green-check "$coll/site.yml" -e "@$work/changed.yml" --check --diff
grep -q 'blue/green change: the new generation it_cat_small_g2 is created in the new group it_cat_small_g2' \
  "$work/blue-green-check.log"
check "$emu" no-writes "$since"
since=$(check "$emu" next)
started=$(date +%s.%N)
load_start gpt-4-32k
play blue-green "$coll/site.yml" -e "@$work/changed.yml"
load_stop
check "$emu" handover it_cat_small it_cat_small_g2 "$since"
check "$emu" overlap it_cat_small it_cat_small_g2 "$started"
check "$emu" services it_cat_small_g2 it_cat_big
check "$emu" billing it_cat_small_g2=1 it_cat_big=1
check "$oneapi" answers "$sk" gpt-4-32k=DeepSeek-R1-Distill-Qwen-1.5B
play rerun-blue-green "$coll/site.yml" -e "@$work/changed.yml"
assert_no_changes rerun-blue-green

# one-api allows 20 logins per 20 minutes per client IP, kept in memory: restart it (what the README advises)
docker restart it-cat-one-api-one-api-1 >/dev/null
for _ in $(seq 30); do curl -sf --noproxy '*' -o /dev/null "$oneapi/api/status" && break; sleep 1; done

# 4. a new generation that fails (a config without GPU): the run fails with the cause, the old one serves on
fixed_small="models[0]['vllm_extra_args'] = ['--enable-prefix-caching', '--disable-log-requests']"
catalog broken "$fixed_small; models[0]['service_config_override'] = {'metadata': {'gpu': 0}}"
load_start gpt-4-32k
if play broken "$coll/site.yml" -e "@$work/broken.yml"; then
  echo "FAIL: a failing new generation was accepted" >&2
  exit 1
fi
load_stop
grep -q 'No CUDA GPUs are available' "$work/broken.log"
grep -q 'it_cat_small_g2 keeps serving' "$work/broken.log"
check "$oneapi" answers "$sk" gpt-4-32k=DeepSeek-R1-Distill-Qwen-1.5B
catalog fixed "$fixed_small"
since=$(check "$emu" next)
load_start gpt-4-32k
play fixed "$coll/site.yml" -e "@$work/fixed.yml"
load_stop
check "$emu" handover it_cat_small_g2 it_cat_small_g3 "$since"
check "$emu" services it_cat_small_g3 it_cat_big

# 5. a third model beside the second in a shared group; a blue/green change there without room is refused
tiny="dict(service_name='it_cat_tiny', model='DeepSeek-R1-Distill-Qwen-1.5B', instance_type='ecs.gn6e-c12g1.3xlarge', instance_count=2, resource_group='it_cat_big', aliases=['it-cat-tiny'], change_strategy='blue_green')"
catalog shared "$fixed_small; models[1].update(resource_group='it_cat_big', instance_count=2); models.append($tiny)"
play shared "$coll/site.yml" -e "@$work/shared.yml"
check "$oneapi" answers "$sk" it-cat-tiny=DeepSeek-R1-Distill-Qwen-1.5B it-cat-7b=DeepSeek-R1-Distill-Qwen-7B
catalog no-room "$fixed_small; models[1].update(resource_group='it_cat_big', instance_count=2); models.append(dict($tiny, vllm_extra_args=['--enable-prefix-caching']))"
refused no-room no-room 'a blue/green change needs its new service it_cat_tiny_g2 beside it_cat_tiny' \
  'set instance_count: 3 on the entries of it_cat_big' 'change_strategy: rolling'

# 6. remove the third model: its service and channel go, the shared group is scaled back to one node
play removed "$coll/site.yml" -e "@$work/fixed.yml"
check "$emu" services it_cat_small_g3 it_cat_big
check "$emu" billing it_cat_small_g3=1 it_cat_big=1
check "$oneapi" answers "$sk" it-cat-7b=DeepSeek-R1-Distill-Qwen-7B
play rerun-removed "$coll/site.yml" -e "@$work/fixed.yml"
assert_no_changes rerun-removed

# 7. the product's teardown (the lab stays up to be read): nothing billed, no service, no channel
play teardown "$coll/playbooks/teardown.yml" -e "@$work/fixed.yml"
check "$emu" billing
check "$emu" services
check "$work/lab/one-api/data/one-api.db" channels
echo "catalog: OK"
