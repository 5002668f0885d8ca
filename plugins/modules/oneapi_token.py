# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_token
short_description: Manage a one-api API token (an C(sk-) relay key)
version_added: 1.0.0
description:
  - Creates, updates or deletes a relay token of the logged-in one-api user (v0.6.6), looked up by exact name,
    and returns its C(sk-) key.
  - one-api overwrites every field of a token on update, so the module always sends the complete token,
    merged from the current one and the options given.
  - one-api lowers the remaining quota of a limited token on every use. By default (O(remain_quota_mode=initial))
    O(remain_quota) is therefore a starting budget, not a value kept in place; see O(remain_quota_mode).
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
      - The key is never part of the diff.
options:
  name:
    description:
      - The token name, at most 30 bytes. one-api does not keep names unique; the module fails, naming the ids,
        when the user has more than one token with this exact name.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the token, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  unlimited_quota:
    description:
      - Whether the token has no quota limit.
      - When the token is created and this is not set, V(true) unless O(remain_quota) is set.
    type: bool
  remain_quota:
    description:
      - The remaining quota of a limited token (one-api quota units; 500000 is USD 1 by default).
      - A limited token with V(0) fails on its first use, so the module refuses to set that.
      - When it is applied depends on O(remain_quota_mode).
    type: int
  remain_quota_mode:
    description:
      - How O(remain_quota) is applied to a token that exists already. one-api lowers the remaining quota
        of a limited token on every use, so it cannot be kept at a fixed value without topping the token up.
      - V(initial) sets O(remain_quota) when the token is created, and when an unlimited token becomes limited
        (O(unlimited_quota=false)). Otherwise the remaining quota is neither compared nor changed, so a used
        token is not reported as changed and its budget is not refilled. To give an existing limited token a new
        budget, run once with V(exact).
      - V(exact) compares O(remain_quota) with the remaining quota and sets it whenever they differ. This is
        B(not idempotent) once a limited token has been used; every run then reports C(changed) and tops the
        budget up to O(remain_quota).
    type: str
    choices: [initial, exact]
    default: initial
  expired_time:
    description:
      - Expiry as Unix seconds; V(-1) means never. When the token is created and this is not set, V(-1).
    type: int
  models:
    description:
      - Allow-list of model names for this token. V([]) allows every model.
    type: list
    elements: str
  subnet:
    description:
      - Allow-list of client networks (CIDR) for this token. V([]) allows any address.
    type: list
    elements: str
notes:
  - The returned RV(token.key) is the secret relay key. Set C(no_log=true) on the task that registers the
    result (the module cannot mask it without also hiding it from the registered variable).
seealso:
  - module: llmops.eas_stack.oneapi_channel
"""

EXAMPLES = r"""
- name: An unlimited, never-expiring token for chatgpt-web
  llmops.eas_stack.oneapi_token:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: chatgpt-web
  register: token
  no_log: true

- name: Keep its key as a fact
  ansible.builtin.set_fact:
    oneapi_token_key: "{{ token.token.key }}"
  no_log: true

- name: A limited token that expires, only for one model
  llmops.eas_stack.oneapi_token:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: trial
    unlimited_quota: false
    remain_quota: 500000
    expired_time: 1893456000
    models: [gpt-4-32k]
  no_log: true

- name: Top the trial token up to 500000 again (reports changed whenever it was used)
  llmops.eas_stack.oneapi_token:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: trial
    unlimited_quota: false
    remain_quota: 500000
    remain_quota_mode: exact
  no_log: true
"""

RETURN = r"""
token:
  description:
    - "The token. C(key) carries the C(sk-) prefix and is ready for an C(Authorization: Bearer) header."
    - Empty when absent. In check mode, for a token still to be created, the fields that would be sent
      (no C(id), no C(key)).
  returned: always
  type: dict
  contains:
    id:
      description: The token id.
      type: int
      returned: when the token exists
      sample: 3
    name:
      description: The token name.
      type: str
      returned: success
      sample: chatgpt-web
    key:
      description: The relay key, C(sk-) followed by 48 characters. A secret.
      type: str
      returned: when the token exists
      sample: sk-...
  sample:
    id: 3
    name: chatgpt-web
    key: sk-...
    status: 1
    expired_time: -1
    remain_quota: 0
    unlimited_quota: true
    models: ""
    subnet: ""
"""

import copy
import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import (
    OneApiError,
    OneApiRunner,
    join_list,
    split_list,
)

MANAGED = ("expired_time", "remain_quota", "unlimited_quota", "models", "subnet")


def current_view(token):
    return dict(
        expired_time=token.get("expired_time"),
        remain_quota=token.get("remain_quota"),
        unlimited_quota=bool(token.get("unlimited_quota")),
        models=split_list(token.get("models")),
        subnet=split_list(token.get("subnet")),
    )


def desired_view(params):
    want = dict((field, params.get(field)) for field in MANAGED)
    for field in ("models", "subnet"):
        if want[field] is not None:
            want[field] = split_list(want[field])
    return want


def create_view(want):
    """Defaults for a new token: never expires, unlimited unless a quota is given."""
    out = dict(want)
    if out["expired_time"] is None:
        out["expired_time"] = -1
    if out["unlimited_quota"] is None:
        out["unlimited_quota"] = want["remain_quota"] is None
    if out["remain_quota"] is None:
        out["remain_quota"] = 0
    for field in ("models", "subnet"):
        if out[field] is None:
            out[field] = []
    return out


def merged_view(want, have, remain_quota_mode):
    """The token as it should be. In ``initial`` mode remain_quota is taken from ``want`` only when the token
    turns from unlimited to limited; otherwise one-api's own (decreasing) value is kept."""
    want = dict(want)
    if remain_quota_mode == "initial" and not (have["unlimited_quota"] and want["unlimited_quota"] is False):
        want["remain_quota"] = None
    out = dict(have)
    out.update(dict((k, v) for k, v in want.items() if v is not None))
    return out


def full_body(token_id, name, status, view):
    """The complete PUT/POST body: one-api writes every one of these fields, zero values included."""
    body = dict(
        name=name,
        expired_time=view["expired_time"],
        remain_quota=view["remain_quota"],
        unlimited_quota=view["unlimited_quota"],
        models=join_list(view["models"]),
        subnet=join_list(view["subnet"]),
    )
    if token_id is not None:
        body["id"] = token_id
        body["status"] = status
    return body


def public(token):
    """The token for the result: key with the sk- prefix."""
    if not isinstance(token, dict):
        return {}
    out = copy.deepcopy(token)
    if out.get("key"):
        out["key"] = out["key"] if out["key"].startswith("sk-") else "sk-" + out["key"]
    return out


def validate(name, view, have=None):
    """Refuse what one-api would refuse or what breaks the token. The quota is checked only when it is set now
    (``have`` is None for a new token), so a limited token that has used up its budget can still be updated."""
    if len(name.encode("utf-8")) > 30:
        raise ModuleError("name must be at most 30 bytes (one-api refuses longer token names)")
    quota_set = have is None or any(view[k] != have[k] for k in ("unlimited_quota", "remain_quota"))
    if quota_set and not view["unlimited_quota"] and not view["remain_quota"]:
        raise ModuleError(
            "a limited token (unlimited_quota=false) with remain_quota 0 fails on its first use: "
            "set remain_quota or unlimited_quota=true"
        )
    expiry = view["expired_time"]
    if expiry is not None and expiry != -1 and expiry <= int(time.time()):
        raise ModuleError("expired_time %d is not in the future; use -1 for a token that never expires" % expiry)


class TokenRunner(OneApiRunner):
    options = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        unlimited_quota=dict(type="bool"),
        remain_quota=dict(type="int"),
        remain_quota_mode=dict(type="str", choices=["initial", "exact"], default="initial"),
        expired_time=dict(type="int"),
        models=dict(type="list", elements="str"),
        subnet=dict(type="list", elements="str"),
    )

    def run(self):
        p = self.params
        want = desired_view(p)
        current = self.client.find_by_name("token", p["name"])
        if p["state"] == "absent":
            if current:
                self.diff(dict(name=p["name"], **current_view(current)), {})
                self.do("DELETE /api/token/%s" % current["id"], self.client.delete_token, current["id"])
            return dict(token={})
        if current is None:
            return self.create(want)
        return self.update(want, current)

    def create(self, want):
        name = self.params["name"]
        view = create_view(want)
        validate(name, view)
        body = full_body(None, name, None, view)
        self.diff({}, dict(name=name, **view))
        created = self.do("POST /api/token/", self.client.create_token, body)
        if self.check_mode:
            return dict(token=body)
        if not isinstance(created, dict) or not created.get("key"):
            created = self.client.find_by_name("token", name)
            if created is None:
                raise OneApiError(
                    "one-api reported the token %r as created, but a search by name does not find it" % name
                )
        return dict(token=public(created))

    def update(self, want, current):
        name = self.params["name"]
        have = current_view(current)
        view = merged_view(want, have, self.params["remain_quota_mode"])
        if view == have:
            return dict(token=public(current))
        validate(name, view, have)
        body = full_body(current["id"], name, current.get("status", 1), view)
        self.diff(dict(name=name, **have), dict(name=name, **view))
        updated = self.do("PUT /api/token/", self.client.update_token, body)
        if self.check_mode:
            merged = dict(current)
            merged.update(body)
            return dict(token=public(merged))
        if not isinstance(updated, dict) or not updated.get("key"):
            updated = dict(current, **body)
        return dict(token=public(updated))


def main():
    TokenRunner.main()


if __name__ == "__main__":
    main()
