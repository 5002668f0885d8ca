#!/usr/bin/env bash
# The test suite behind `make test`: lint, sanity, units, integration (against the lab).
# Every stage runs even when an earlier one failed; the last line is the count of what ran:
#   N passed, N failed
# Exit status: 0 only when nothing failed.
#
# Counts are never stale and never made up: each stage removes its result files before it runs, uses the exit code
# of its tool, and a stage that ran no test (or crashed before reporting) counts as failed. Sanity tests that
# ansible-test skips are reported as skipped, not as passed.
#
#   scripts/run-tests.sh [lint] [sanity] [units] [integration] [reliability]     (default: the first four)
#   INTEGRATION_TARGETS="eas_service role_oneapi" scripts/run-tests.sh integration
#   LAB_REBUILD=true scripts/run-tests.sh integration     (build the lab's base rootfs again too)
#   INTEGRATION_LANES=1 scripts/run-tests.sh integration  (the targets one after the other instead of in two lanes)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${VENV:-$root/.venv}
out=$root/tests/output/run
mkdir -p "$out"
case ":$PATH:" in *":$venv/bin:"*) ;; *) export PATH="$venv/bin:$PATH" ;; esac
cd "$root" || exit 1

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(lint sanity units integration)

passed=0
failed=0
declare -a report=()

record() { # stage passed failed [detail]
  passed=$((passed + $2))
  failed=$((failed + $3))
  report+=("$(printf '%-12s %4d passed, %4d failed  %s' "$1" "$2" "$3" "${4:-}")")
}

run_lint() {
  local p=0 f=0 bad=""
  rm -f "$out"/yamllint.log "$out"/ansible-lint.log "$out"/ruff.log
  echo "=== lint: yamllint"
  if yamllint -s . >"$out/yamllint.log" 2>&1; then p=$((p + 1)); else f=$((f + 1)); bad+=" yamllint"; cat "$out/yamllint.log"; fi
  echo "=== lint: ansible-lint (production profile)"
  if ansible-lint --offline -q >"$out/ansible-lint.log" 2>&1; then p=$((p + 1)); else f=$((f + 1)); bad+=" ansible-lint"; cat "$out/ansible-lint.log"; fi
  echo "=== lint: ruff format --check (the Python formatter)"
  if ruff format --check . >"$out/ruff.log" 2>&1; then p=$((p + 1)); else f=$((f + 1)); bad+=" ruff-format"; cat "$out/ruff.log"; fi
  record lint "$p" "$f" "${bad:+failed:$bad}"
}

# Counts of an ansible-test sanity log: "<passed> <failed> <skipped>".
sanity_counts() { # log rc
  python3 - "$1" "$2" <<'PY'
import re
import sys

log, rc = open(sys.argv[1], encoding='utf-8', errors='replace').read().splitlines(), int(sys.argv[2])
ran, skipped, current = [], set(), None
for line in log:
    m = re.match(r'^Running sanity test "([^"]+)"', line)
    if m:
        current = m.group(1)
        ran.append(current)
    elif current and re.match(r'^WARNING: (Skipping sanity test|Required program .* not found)', line):
        skipped.add(current)
failed = set()
for i, line in enumerate(log):
    if re.match(r'^FATAL: The \d+ sanity test\(s\) listed below', line):
        for name in log[i + 1:]:
            if not re.match(r'^[a-z0-9_-]+$', name):
                break
            failed.add(name)
# A non-zero exit without a list of failed tests is a crash: one failure, whatever ran.
crashed = rc != 0 and not failed
failed_count = len(failed) + (1 if crashed else 0)
if not ran:
    failed_count = max(failed_count, 1)
passed = len([t for t in ran if t not in failed and t not in skipped])
print(passed, failed_count, len(skipped - failed), ' '.join(sorted(skipped - failed)))
PY
}

run_sanity() {
  echo "=== sanity: ansible-test sanity (offline, no ignore entries)"
  rm -f "$out/sanity.log"
  bash "$here/ansible-test.sh" sanity --venv >"$out/sanity.log" 2>&1
  local rc=$? counts p f s names
  counts=$(sanity_counts "$out/sanity.log" "$rc")
  read -r p f s names <<<"$counts"
  if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
    grep -E '^(ERROR|FATAL)' "$out/sanity.log" | head -n 60
  fi
  record sanity "$p" "$f" "${names:+skipped $s: $names; }log: tests/output/run/sanity.log"
}

run_units() {
  echo "=== units: pytest tests/unit"
  rm -f "$out/units.xml" "$out/units.log"
  PYTHONPATH="$root/.collections${PYTHONPATH:+:$PYTHONPATH}" python -m pytest tests/unit -q -p no:cacheprovider \
    --junitxml="$out/units.xml" >"$out/units.log" 2>&1
  local rc=$? counts
  tail -n 25 "$out/units.log"
  counts=$(python3 - "$out/units.xml" "$rc" <<'PY'
import sys
import xml.etree.ElementTree as ET
rc = int(sys.argv[2])
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 1, 'pytest wrote no report (exit code %d)' % rc)
    sys.exit()
suites = [root] if root.tag == 'testsuite' else list(root)
tests = sum(int(s.get('tests', 0)) for s in suites)
bad = sum(int(s.get('failures', 0)) + int(s.get('errors', 0)) for s in suites)
skipped = sum(int(s.get('skipped', 0)) for s in suites)
note = 'skipped %d' % skipped if skipped else ''
if tests - skipped == 0:
    bad, note = max(bad, 1), 'no test ran'
elif rc != 0 and bad == 0:
    bad, note = 1, 'pytest exited %d' % rc
print(tests - bad - skipped if tests - skipped else 0, bad, note)
PY
)
  local p f note
  read -r p f note <<<"$counts"
  record units "$p" "$f" "${note:+$note; }log: tests/output/run/units.log"
}

# The targets of a stage: `integration` runs every target but those with the alias `separate`, which the `reliability`
# stage runs (the reliability suite takes about ten minutes on its own: `make reliability`, run by CI after `make test`).
stage_targets() { # integration|reliability
  local d name separate
  shopt -s nullglob
  for d in tests/integration/targets/*/; do
    name=$(basename "$d")
    case "$name" in setup_* | prepare_*) continue ;; esac
    grep -qE '^(disabled|unsupported|hidden)' "$d/aliases" 2>/dev/null && continue
    separate=false
    grep -qx 'separate' "$d/aliases" 2>/dev/null && separate=true
    if [ "$1" = reliability ] && $separate; then echo "$name"; fi
    if [ "$1" = integration ] && ! $separate; then echo "$name"; fi
  done
}

# Integration targets run in two lanes at once (INTEGRATION_LANES=1 runs them one after the other): most of their
# time is spent waiting for containers and the lab's simulated delays, not computing. Each lane has its own copy of
# the collection. Targets that share a Docker network or a container name (the one-api stand-in of llmops-it) must
# stay in one lane: the second lane takes the targets listed in SECOND_LANE, the first lane all the others.
SECOND_LANE="catalog oneapi_multinode eas_service_autoscaler eas_resource_group eas_service collection_build"

run_lane() {
  local lane=$1 t reuse=false start rc workdir=$root/.cache/ansible-test
  shift
  [ "$lane" = 1 ] || workdir+="-lane$lane"
  for t in "$@"; do
    start=$SECONDS
    rc=0
    ANSIBLE_TEST_WORKDIR=$workdir ANSIBLE_TEST_REUSE_COPY=$reuse \
      bash "$here/ansible-test.sh" integration --local --allow-destructive "$t" >"$out/integration-$t.log" 2>&1 || rc=$?
    reuse=true
    if [ "$rc" -eq 0 ]; then echo "pass $t" >>"$out/integration-lane$lane.status"; else echo "fail $t" >>"$out/integration-lane$lane.status"; fi
    echo "=== target: $t $([ "$rc" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start)) s (lane $lane)"
  done
}

run_integration() { # [stage]
  local stage=${1:-integration} targets p=0 f=0 bad="" t build_args=(--multinode) lane1=() lane2=() lanes=${INTEGRATION_LANES:-2}
  if [ -n "${INTEGRATION_TARGETS:-}" ]; then targets=$INTEGRATION_TARGETS; else targets=$(stage_targets "$stage"); fi
  [ "${LAB_REBUILD:-false}" = "true" ] && build_args+=(--rebuild-base)
  rm -f "$out"/lab-images.log "$out"/integration-lane*.status
  for t in $targets; do rm -f "$out/integration-$t.log"; done
  # The build runs every time (Docker's cache reuses what did not change); the base rootfs is reused when present
  # (LAB_REBUILD=true builds it again): the target demo_from_nothing builds every image from nothing.
  echo "=== $stage: lab images (${build_args[*]}; the base images are reused when present unless LAB_REBUILD=true)"
  if ! bash "$root/tests/lab/build-images.sh" "${build_args[@]}" >"$out/lab-images.log" 2>&1; then
    cat "$out/lab-images.log"
    record "$stage" 0 1 "lab images failed to build"
    return
  fi
  for t in $targets; do
    if [ "$lanes" -gt 1 ] && [[ " $SECOND_LANE " == *" $t "* ]]; then lane2+=("$t"); else lane1+=("$t"); fi
  done
  run_lane 1 "${lane1[@]}" &
  local first=$!
  [ "${#lane2[@]}" -gt 0 ] && run_lane 2 "${lane2[@]}"
  wait "$first" || true
  for t in $targets; do
    if grep -qx "pass $t" "$out"/integration-lane*.status 2>/dev/null; then
      p=$((p + 1))
    else
      f=$((f + 1))
      bad+=" $t"
      echo "=== $stage: $t failed, the end of tests/output/run/integration-$t.log:"
      tail -n 60 "$out/integration-$t.log"
    fi
  done
  if [ $((p + f)) -eq 0 ]; then
    f=1
    bad=" (no target ran)"
  fi
  record "$stage" "$p" "$f" "${bad:+failed:$bad}"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    lint) run_lint ;;
    sanity) run_sanity ;;
    units) run_units ;;
    integration) run_integration integration ;;
    reliability) run_integration reliability ;;
    *) echo "unknown stage: $stage" >&2; record "$stage" 0 1 "unknown stage" ;;
  esac
done

echo
echo "=== summary"
for line in "${report[@]}"; do echo "$line"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
