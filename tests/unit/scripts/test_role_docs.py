# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each role's README lists the entry points and inputs its meta/argument_specs.yml declares (scripts/role_docs.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / 'scripts'))
import role_docs  # noqa: E402  pylint: disable=wrong-import-position

ROLES = sorted(p.parent.parent.name for p in (ROOT / 'roles').glob('*/meta/argument_specs.yml'))


@pytest.mark.parametrize('role', ROLES)
def test_readme_lists_what_the_argument_specs_declare(role):
    readme = ROOT / 'roles' / role / 'README.md'
    assert readme.read_text(encoding='utf-8') == role_docs.update(str(readme), role_docs.render(str(readme.parent))), (
        'roles/%s/README.md is out of date: run python scripts/role_docs.py' % role
    )


def test_a_changed_option_makes_the_readme_stale(tmp_path):
    role = tmp_path / 'roles' / 'demo'
    shutil.copytree(ROOT / 'roles' / 'compose_stack', role)
    readme = role / 'README.md'
    specs = role / 'meta' / 'argument_specs.yml'
    specs.write_text(specs.read_text(encoding='utf-8').replace('compose_stack_purge:', 'compose_stack_purged:'))
    assert 'compose_stack_purged' not in readme.read_text(encoding='utf-8')
    assert 'compose_stack_purged' in role_docs.update(str(readme), role_docs.render(str(role)))
