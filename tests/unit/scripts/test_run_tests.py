# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test runner itself (scripts/run-tests.sh): a crashed, empty or stale stage must fail the run.

Each case copies the runner into a scratch tree with stub tools beside it, runs one stage and reads its closing
``N passed, N failed`` line and exit status.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[3] / 'scripts' / 'run-tests.sh'
STALE_REPORT = '<testsuites><testsuite name="pytest" tests="253" failures="0" errors="0" skipped="0"/></testsuites>'


def make_tree(tmp_path, ansible_test='exit 0', unit_tests=None, venv_dir=None):
    (tmp_path / 'scripts').mkdir()
    shutil.copy(RUNNER, tmp_path / 'scripts' / 'run-tests.sh')
    (tmp_path / 'scripts' / 'ansible-test.sh').write_text('#!/usr/bin/env bash\n%s\n' % ansible_test)
    (tmp_path / 'tests' / 'unit').mkdir(parents=True)
    for name, text in (unit_tests or {}).items():
        (tmp_path / 'tests' / 'unit' / name).write_text(text)
    (tmp_path / 'tests' / 'integration' / 'targets').mkdir(parents=True)
    (tmp_path / 'tests' / 'lab').mkdir()
    (tmp_path / 'tests' / 'lab' / 'build-images.sh').write_text('#!/usr/bin/env bash\nexit 0\n')
    out = tmp_path / 'tests' / 'output' / 'run'
    out.mkdir(parents=True)
    (out / 'units.xml').write_text(STALE_REPORT)  # what an earlier run left behind
    if venv_dir is None:
        venv_dir = Path(sys.executable).resolve().parents[1]
    return venv_dir


def run(tmp_path, stage, venv_dir):
    env = dict(os.environ, VENV=str(venv_dir), PATH='%s/bin:/usr/bin:/bin' % venv_dir)
    proc = subprocess.run(
        ['bash', str(tmp_path / 'scripts' / 'run-tests.sh'), stage],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    last = proc.stdout.strip().splitlines()[-1]
    match = re.match(r'^(\d+) passed, (\d+) failed$', last)
    assert match, proc.stdout
    return proc.returncode, int(match.group(1)), int(match.group(2)), proc.stdout


@pytest.fixture(scope='module')
def venv_without_pytest(tmp_path_factory):
    path = tmp_path_factory.mktemp('venv-no-pytest')
    venv.create(path, with_pip=False)
    return path


def test_units_without_pytest_fail_and_never_report_a_stale_count(tmp_path, venv_without_pytest):
    venv_dir = make_tree(tmp_path, unit_tests={'test_a.py': 'def test_a():\n    pass\n'}, venv_dir=venv_without_pytest)
    rc, passed, failed, out = run(tmp_path, 'units', venv_dir)
    assert (rc, passed, failed) != (0, 253, 0)
    assert rc != 0 and passed == 0 and failed == 1, out


def test_units_with_no_test_fail(tmp_path):
    venv_dir = make_tree(tmp_path)
    rc, passed, failed, out = run(tmp_path, 'units', venv_dir)
    assert rc != 0 and passed == 0 and failed == 1, out
    assert 'no test ran' in out


def test_units_count_what_ran(tmp_path):
    tests = {'test_a.py': 'def test_ok():\n    pass\n\ndef test_bad():\n    assert False\n'}
    venv_dir = make_tree(tmp_path, unit_tests=tests)
    rc, passed, failed, out = run(tmp_path, 'units', venv_dir)
    assert rc != 0 and passed == 1 and failed == 1, out


def test_sanity_crash_fails(tmp_path):
    venv_dir = make_tree(tmp_path, ansible_test='echo "Traceback (most recent call last):"; exit 2')
    rc, passed, failed, out = run(tmp_path, 'sanity', venv_dir)
    assert rc != 0 and passed == 0 and failed == 1, out


def test_sanity_crash_after_some_tests_fails(tmp_path):
    script = 'echo \'Running sanity test "pep8"\'; echo \'Running sanity test "pylint"\'; exit 1'
    venv_dir = make_tree(tmp_path, ansible_test=script)
    rc, passed, failed, out = run(tmp_path, 'sanity', venv_dir)
    assert rc != 0 and failed >= 1, out


def test_sanity_skipped_test_is_not_counted_as_passed(tmp_path):
    script = (
        'echo \'Running sanity test "pep8"\'; echo \'Running sanity test "shellcheck"\'; '
        'echo \'WARNING: Required program "shellcheck" not found.\'; exit 0'
    )
    venv_dir = make_tree(tmp_path, ansible_test=script)
    rc, passed, failed, out = run(tmp_path, 'sanity', venv_dir)
    assert rc == 0 and passed == 1 and failed == 0, out
    assert 'skipped 1: shellcheck' in out


def test_sanity_failures_are_counted(tmp_path):
    script = (
        'echo \'Running sanity test "pep8"\'; echo \'Running sanity test "pylint"\'; '
        'echo \'Running sanity test "yamllint"\'; '
        'echo \'FATAL: The 1 sanity test(s) listed below (out of 3) failed. See error output above for details.\'; '
        'echo pylint; echo \'FATAL: Command "x" returned exit status 1.\'; exit 1'
    )
    venv_dir = make_tree(tmp_path, ansible_test=script)
    rc, passed, failed, out = run(tmp_path, 'sanity', venv_dir)
    assert rc != 0 and passed == 2 and failed == 1, out


def test_integration_with_no_target_fails(tmp_path):
    venv_dir = make_tree(tmp_path)
    rc, passed, failed, out = run(tmp_path, 'integration', venv_dir)
    assert rc != 0 and passed == 0 and failed == 1, out
