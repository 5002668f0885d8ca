# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_option
short_description: Set one-api system options (for example close self-registration)
version_added: 1.0.0
description:
  - Reads the options with C(GET /api/option/) and sets, with C(PUT /api/option/), only those that differ.
  - Needs the root user.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
extends_documentation_fragment:
  - llmops.eas_stack.oneapi
  - llmops.eas_stack.oneapi.ACTIONGROUP
  - llmops.eas_stack.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - Values of options whose name ends in C(Token) or C(Secret) are not shown.
options:
  settings:
    description:
      - "Option names and wanted values, for example C({RegisterEnabled: false, PasswordRegisterEnabled: false})."
      - one-api stores every value as a string; booleans become V(true)/V(false), numbers their decimal form.
    type: dict
    required: true
notes:
  - one-api never returns options whose name ends in C(Token) or C(Secret). Such options are written on every
    run (and reported as changed); their values are masked in the output.
"""

EXAMPLES = r"""
- name: Close self-registration
  llmops.eas_stack.oneapi_option:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    settings:
      RegisterEnabled: false
      PasswordRegisterEnabled: false
"""

RETURN = r"""
changed_settings:
  description: Names of the options that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
  sample: [RegisterEnabled]
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import OneApiRunner


def option_value(value):
    """one-api option values are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def is_secret(name):
    return name.endswith("Token") or name.endswith("Secret")


def plan(settings, current):
    """Return ``[(name, value)]`` to write: those that differ, and those one-api hides (never comparable)."""
    todo = []
    for name in sorted(settings):
        value = option_value(settings[name])
        if name not in current or current[name] != value:
            todo.append((name, value))
    return todo


class OptionRunner(OneApiRunner):
    options = dict(settings=dict(type="dict", required=True))

    def run(self):
        settings = self.params["settings"]
        for name, value in settings.items():
            if is_secret(name) and value not in (None, ""):
                self.module.no_log_values.add(option_value(value))
        current = self.client.get_options()
        todo = plan(settings, current)
        hidden = [name for name, dummy in todo if name not in current]
        if hidden:
            self.warn("one-api does not return the options %s, so they are written on every run" % ", ".join(hidden))
        if todo:
            self.diff(
                dict((n, "<hidden>" if is_secret(n) else current.get(n)) for n, dummy in todo),
                dict((n, "<hidden>" if is_secret(n) else v) for n, v in todo),
            )
        for name, value in todo:
            self.do("PUT /api/option/ %s" % name, self.client.set_option, name, value)
        return dict(changed_settings=[name for name, dummy in todo])


def main():
    OptionRunner.main()


if __name__ == "__main__":
    main()
