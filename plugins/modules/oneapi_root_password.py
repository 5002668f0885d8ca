# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_root_password
short_description: Replace one-api's initial root password
version_added: 1.0.0
description:
  - Makes O(password) the password of O(username) (default V(root)) on one-api (v0.6.6), which creates
    C(root)/C(123456) on an empty database.
  - It first logs in with O(password); if that works nothing changes. Otherwise it logs in once with
    O(initial_password) and sets O(password). At most two logins per run, because one-api allows only
    20 logins per 20 minutes per client IP.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
extends_documentation_fragment:
  - llmops.eas_stack.oneapi
  - llmops.eas_stack.oneapi.ACTIONGROUP
  - llmops.eas_stack.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode logs in (to find out whether a change is due) but does not change the password.
  diff_mode:
    support: full
    details:
      - The diff only says whether the password is still the initial one; passwords are never shown.
options:
  password:
    description:
      - The wanted password, 8 to 20 characters, not the initial one.
    required: true
  access_token:
    description:
      - Ignored; this module always logs in with a password.
      - Do not pass the token it returns back to it (through C(module_defaults), for example). Ansible masks a returned
        value that equals a C(no_log) option, so RV(access_token) would read C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
  initial_password:
    description:
      - The password to fall back to when O(password) is refused. one-api's initial root password is V(123456).
    type: str
    default: "123456"
  return_access_token:
    description:
      - Also return the user's current system access token (read from C(GET /api/user/self), which does not make
        a new one). Other one-api modules can use it as O(access_token) instead of logging in again.
      - one-api newer than v0.6.10 no longer returns it; RV(access_token) is then empty.
      - The token is a secret; set C(no_log=true) on the task.
    type: bool
    default: false
notes:
  - one-api does not ask for the old password and keeps existing sessions and the access token valid after a change.
seealso:
  - module: llmops.eas_stack.oneapi_option
"""

EXAMPLES = r"""
- name: Replace root/123456
  llmops.eas_stack.oneapi_root_password:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
  no_log: true
"""

RETURN = r"""
access_token:
  description: The system access token of O(username), when O(return_access_token=true) and one-api returns it. A secret.
  returned: when O(return_access_token=true)
  type: str
  sample: 0f3c6f0e2b5d4c1e9a7b8c6d5e4f3a2b
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import (
    INITIAL_ROOT_PASSWORD,
    OneApiError,
    OneApiRunner,
    oneapi_argument_spec,
)


def check_password(password, initial):
    """Return an error message for a password one-api would refuse, or None."""
    if password is None or password == "":
        return "password is required"
    if len(password) < 8 or len(password) > 20:
        return "password must be 8 to 20 characters long (one-api refuses others); it has %d" % len(password)
    if password == initial or password == INITIAL_ROOT_PASSWORD:
        return "password must not be the initial password"
    if password == "$I_LOVE_U":
        return "password must not be $I_LOVE_U (one-api treats it as 'no change')"
    return None


class RootPasswordRunner(OneApiRunner):
    options = dict(
        password=dict(oneapi_argument_spec()["password"], required=True),
        initial_password=dict(type="str", default=INITIAL_ROOT_PASSWORD, no_log=True),
        return_access_token=dict(type="bool", default=False, no_log=False),
    )

    def run(self):
        p = self.params
        problem = check_password(p["password"], p["initial_password"])
        if problem:
            raise ModuleError(
                "%s: set the password option (role variable oneapi_root_password) to 8-20 characters "
                "other than 123456" % problem
            )
        client = self.client
        client.access_token = None
        refused = client.try_login(p["password"])
        if refused is not None:
            refused_initial = client.try_login(p["initial_password"])
            if refused_initial is not None:
                raise OneApiError(
                    "login as %s failed with the given password (%s) and with the initial password (%s). If the "
                    "password was changed to something else, set the password option (role variable "
                    "oneapi_root_password) to the current one." % (client.username, refused, refused_initial)
                )
            self.diff(dict(password="initial"), dict(password="set"))
            self.do("PUT /api/user/self", client.set_own_password, p["password"])
        result = {}
        if p["return_access_token"]:
            me = client.get_self() or {}
            result["access_token"] = me.get("access_token") or ""
        return result


def main():
    RootPasswordRunner.main()


if __name__ == "__main__":
    main()
