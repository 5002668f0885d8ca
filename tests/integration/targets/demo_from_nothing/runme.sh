#!/usr/bin/env bash
# The README's first command from nothing, as a new user runs it: a clean clone, a new virtualenv and no lab image
# (the images are built under a fresh LAB_IMAGE_PREFIX, base rootfs included). `make demo` converges, a second
# `make demo` changes nothing, `make teardown` leaves nothing billed. Own names and ports, so a running demo is left
# alone; everything it made (clone, images, containers) is removed at the end.
set -euo pipefail

coll=""
IFS=: read -r -a paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
for p in "${paths[@]}"; do
  if [ -d "$p/ansible_collections/llmops/eas_stack/.git" ]; then
    coll="$p/ansible_collections/llmops/eas_stack"
    break
  fi
done
[ -n "$coll" ] || { echo "a git copy of llmops.eas_stack was not found in ANSIBLE_COLLECTIONS_PATH" >&2; exit 1; }

# What a user's shell has: none of ansible-test's settings, wrappers or virtualenv.
for v in $(compgen -e | grep -E '^(ANSIBLE_|VENV$|PYTHONPATH$|VIRTUAL_ENV$)' || true); do unset "$v"; done
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vE 'ansible-test|/\.venv/bin|/python-[^/]*-ansible' | paste -sd: -)
export PATH

work=$(mktemp -d)
prefix="llmops-lab-fresh-$$"
export LAB_IMAGE_PREFIX=$prefix
cleanup() {
  set +e
  (cd "$work/clone" && make teardown DEMO_ARGS="-e @$work/vars.yml" >"$work/cleanup.log" 2>&1)
  docker rm -f it-demo-eas-emulator >/dev/null 2>&1
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$prefix/" | xargs -r docker rmi -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

if docker images --format '{{.Repository}}' | grep -q "^$prefix/"; then
  echo "FAIL: images named $prefix/ exist already" >&2
  exit 1
fi
git clone -q "$coll" "$work/clone"
cat >"$work/vars.yml" <<VARS
lab_docker_network: llmops-it-demo
lab_eas_emulator_name: it-demo-eas-emulator
lab_eas_emulator_port: 18097
eas_resource_group_name: it-demo-group
eas_service_name: it_demo_deepseek
oneapi_project_name: it-demo-one-api
oneapi_port: 15197
chatgpt_web_project_name: it-demo-chatgpt-web
chatgpt_web_port: 13197
front_door_project_name: it-demo-front-door
front_door_https_port: 16046
front_door_http_port: 16083
VARS

cd "$work/clone"
echo "=== make demo (new virtualenv, images built under $prefix)"
if ! make demo DEMO_ARGS="-e @$work/vars.yml" >"$work/demo-1.log" 2>&1; then
  tail -n 60 "$work/demo-1.log"
  echo "FAIL: the first make demo failed" >&2
  exit 1
fi
grep -E '^localhost +: ok=' "$work/demo-1.log"
[ -x .venv/bin/ansible-playbook ] || { echo "FAIL: make demo made no virtualenv in the clone" >&2; exit 1; }
for image in base:bookworm eas-emulator:latest one-api:v0.6.6-standin chatgpt-web:standin caddy:2.6-debian; do
  docker image inspect "$prefix/$image" >/dev/null || { echo "FAIL: $prefix/$image was not built" >&2; exit 1; }
done
grep -q 'building .*base:bookworm from Debian' "$work/demo-1.log" || { echo "FAIL: the base image was not built from nothing" >&2; exit 1; }

echo "=== make demo again"
make demo DEMO_ARGS="-e @$work/vars.yml" >"$work/demo-2.log" 2>&1 || { tail -n 60 "$work/demo-2.log"; exit 1; }
recap=$(grep -E '^localhost +: ok=' "$work/demo-2.log")
echo "$recap"
if ! grep -qE 'changed=0 .*failed=0' <<<"$recap"; then
  echo "FAIL: the second make demo changed something" >&2
  exit 1
fi

echo "=== make teardown"
make teardown DEMO_ARGS="-e @$work/vars.yml" >"$work/teardown.log" 2>&1 || { tail -n 60 "$work/teardown.log"; exit 1; }
if docker ps -a --format '{{.Names}}' | grep -E '^it-demo-'; then
  echo "FAIL: containers left after make teardown" >&2
  exit 1
fi
echo "demo_from_nothing: OK"
