#!/usr/bin/env bash
# The test suite behind `make test`: lint, sanity, units, integration (against the lab).
# Every stage runs even when an earlier one failed; the last line is the count of what ran:
#   N passed, N failed
# Exit status: 0 only when nothing failed.
#
#   scripts/run-tests.sh [lint] [sanity] [units] [integration]     (default: all four)
#   INTEGRATION_TARGETS="eas_service role_oneapi" scripts/run-tests.sh integration
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
  echo "=== lint: yamllint"
  if yamllint -s . >"$out/yamllint.log" 2>&1; then p=$((p + 1)); else f=$((f + 1)); bad+=" yamllint"; cat "$out/yamllint.log"; fi
  echo "=== lint: ansible-lint (production profile)"
  if ansible-lint --offline -q >"$out/ansible-lint.log" 2>&1; then p=$((p + 1)); else f=$((f + 1)); bad+=" ansible-lint"; cat "$out/ansible-lint.log"; fi
  record lint "$p" "$f" "${bad:+failed:$bad}"
}

run_sanity() {
  echo "=== sanity: ansible-test sanity (offline, no ignore entries)"
  bash "$here/ansible-test.sh" sanity --venv >"$out/sanity.log" 2>&1
  local rc=$? total nfail
  total=$(grep -c '^Running sanity test' "$out/sanity.log")
  nfail=$(sed -n 's/^ERROR: The \([0-9]*\) sanity test(s) listed below (out of [0-9]*) failed.*/\1/p' "$out/sanity.log" | tail -n 1)
  nfail=${nfail:-0}
  if [ "$rc" -ne 0 ]; then
    grep -E '^ERROR|^(FAILED|WARNING: .*failed)' "$out/sanity.log" | head -n 60
    [ "$nfail" -eq 0 ] && nfail=1
  fi
  record sanity "$((total - nfail))" "$nfail" "log: tests/output/run/sanity.log"
}

run_units() {
  echo "=== units: pytest tests/unit"
  PYTHONPATH="$root/.collections${PYTHONPATH:+:$PYTHONPATH}" python -m pytest tests/unit -q -p no:cacheprovider \
    --junitxml="$out/units.xml" 2>&1 | tee "$out/units.log" | tail -n 25
  local counts
  counts=$(python - "$out/units.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 1")
    sys.exit()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
PY
)
  record units "${counts% *}" "${counts#* }" "log: tests/output/run/units.log"
}

integration_targets() {
  local d name
  for d in tests/integration/targets/*/; do
    name=$(basename "$d")
    case "$name" in setup_* | prepare_*) continue ;; esac
    grep -qE '^(disabled|unsupported|hidden)' "$d/aliases" 2>/dev/null && continue
    echo "$name"
  done
}

run_integration() {
  local targets p=0 f=0 bad="" t first=true
  if [ -n "${INTEGRATION_TARGETS:-}" ]; then targets=$INTEGRATION_TARGETS; else targets=$(integration_targets); fi
  echo "=== integration: lab images"
  if ! bash "$root/tests/lab/build-images.sh" >"$out/lab-images.log" 2>&1; then
    cat "$out/lab-images.log"
    record integration 0 1 "lab images failed to build"
    return
  fi
  for t in $targets; do
    echo "=== integration: $t"
    local reuse=true
    $first && reuse=false
    first=false
    if ANSIBLE_TEST_REUSE_COPY=$reuse bash "$here/ansible-test.sh" integration --local --allow-destructive "$t" \
      >"$out/integration-$t.log" 2>&1; then
      p=$((p + 1))
      grep -E '^PLAY RECAP' -A2 "$out/integration-$t.log" | tail -n 2
    else
      f=$((f + 1))
      bad+=" $t"
      tail -n 60 "$out/integration-$t.log"
    fi
  done
  record integration "$p" "$f" "${bad:+failed:$bad}"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    lint) run_lint ;;
    sanity) run_sanity ;;
    units) run_units ;;
    integration) run_integration ;;
    *) echo "unknown stage: $stage" >&2; record "$stage" 0 1 "unknown stage" ;;
  esac
done

echo
echo "=== summary"
for line in "${report[@]}"; do echo "$line"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
