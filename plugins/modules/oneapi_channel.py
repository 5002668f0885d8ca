# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_channel
short_description: Manage a one-api channel (an upstream model provider)
version_added: 1.0.0
description:
  - Creates, updates or deletes a channel of one-api (v0.6.6), looked up by its exact name.
  - Only the fields given are compared and only the changed ones are sent (one-api updates channels partially).
  - The channel key is write-only in one-api; see O(update_key) for how a changed key is detected.
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
      - The key is never shown; the diff says whether it will be replaced.
options:
  name:
    description:
      - The channel name. one-api does not keep names unique; the module fails, naming the ids, when more
        than one channel has this exact name.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the channel, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - The one-api channel type number, for example V(36) DeepSeek, V(1) OpenAI, V(8) Custom.
      - When the channel is created and this is not set, V(36) (DeepSeek, OpenAI-compatible relay) is used.
    type: int
  base_url:
    description:
      - The upstream base URL. For OpenAI-style types (1, 8, 36) one-api appends C(/v1/chat/completions),
        so give it without a trailing C(/v1). A trailing C(/) is removed. V("") means the type's default.
    type: str
  key:
    description:
      - The upstream API key (for PAI-EAS the service token). Needed to create the channel.
      - Must be a single line (one-api creates one channel per line).
    type: str
  update_key:
    description:
      - How O(key) is applied to an existing channel, whose key one-api never returns.
      - V(when_changed) stores a salted HMAC-SHA256 fingerprint of the key (never the key) in the channel's
        C(config) JSON under C(llmops_key_fingerprint), compares O(key) with it and sends the key only when it
        differs. A channel made elsewhere (no fingerprint) gets the key and the fingerprint once.
      - V(on_create) sends the key only when the channel is created; later changes of O(key) are ignored.
      - V(always) sends the key on every run, so the task always reports C(changed).
    type: str
    choices: [when_changed, on_create, always]
    default: when_changed
  models:
    description:
      - The model names clients may ask this channel for (one-api stores them comma-joined).
      - Surrounding spaces are removed and duplicates dropped (a duplicate breaks channel creation in v0.6.6).
      - The order is kept and compared; one-api's channel test uses the first entry.
    type: list
    elements: str
  model_mapping:
    description:
      - "Map of client-facing model name to upstream model name, for example C({\"gpt-4-32k\": \"DeepSeek-R1-Distill-Qwen-1.5B\"})."
      - Each key should also be listed in O(models). V({}) removes the mapping. Compared as a dictionary.
    type: dict
  group:
    description:
      - The user groups that may use the channel. When the channel is created and this is not set, V(default) is used.
    type: list
    elements: str
  priority:
    description:
      - The channel's priority. For a model several channels serve, one-api v0.6.6 picks among the B(enabled) channels
        of the B(highest) priority, at random among equals; channels of a lower priority get no traffic while one of a
        higher priority is enabled (retries, when C(RetryTimes) is set, may use them).
      - With one-api's memory cache (C(MEMORY_CACHE_ENABLED), or Redis) a priority only counts when it is above 0;
        among channels whose highest priority is 0 or less, every enabled channel is picked at random. Use priorities
        from 1 up to rank channels.
      - When the channel is created and this is not set, one-api uses V(0).
    type: int
  status:
    description:
      - V(enabled) (one-api status 1) routes requests to the channel; V(disabled) (status 2, manually disabled) keeps
        it, tested and ready, out of routing. A channel one-api disabled by itself (status 3) counts as V(disabled).
      - When the channel is created and this is not set, one-api enables it. Not set on an existing channel, its status
        is left alone.
      - one-api's channel test (M(llmops.eas_stack.oneapi_channel_test)) also tests a disabled channel.
    type: str
    choices: [enabled, disabled]
notes:
  - one-api does not return the id of a created channel; the module finds it by exact name afterwards.
  - one-api cannot clear O(models) or O(group) of an existing channel; the module fails instead of pretending.
  - The C(config) keys other than C(llmops_key_fingerprint) are kept as they are.
  - "Key fingerprint: anyone who can read the channel (admins) sees the fingerprint; it is salted and keyed,
    and EAS tokens are long random strings, so it does not reveal the key. one-api itself stores the key in clear
    text in its database, so protect the data directory."
seealso:
  - module: llmops.eas_stack.oneapi_token
  - module: llmops.eas_stack.oneapi_channel_test
"""

EXAMPLES = r"""
- name: Point a DeepSeek-type channel at a PAI-EAS service, serving gpt-4-32k
  llmops.eas_stack.oneapi_channel:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: eas-deepseek
    type: 36
    base_url: "{{ eas_service_endpoint }}"
    key: "{{ eas_service_token }}"
    models: [gpt-4-32k]
    model_mapping:
      gpt-4-32k: "{{ eas_served_model_name }}"

- name: A second channel for the same alias, tested while disabled, then preferred (a blue/green handover)
  llmops.eas_stack.oneapi_channel:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: eas-deepseek_g2
    base_url: "{{ new_endpoint }}"
    key: "{{ new_token }}"
    models: [gpt-4-32k]
    model_mapping:
      gpt-4-32k: DeepSeek-R1-Distill-Qwen-7B
    priority: 1
    status: disabled

- name: Remove it
  llmops.eas_stack.oneapi_channel:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: eas-deepseek
    state: absent
"""

RETURN = r"""
channel:
  description:
    - The channel as one-api returns it, without C(key). Empty when absent.
    - In check mode, for a channel still to be created, the fields that would be sent (no C(id)).
  returned: always
  type: dict
  sample:
    id: 1
    name: eas-deepseek
    type: 36
    status: 1
    base_url: http://eas-emulator:8080/api/predict/deepseek
    models: gpt-4-32k
    model_mapping: '{"gpt-4-32k":"DeepSeek-R1-Distill-Qwen-1.5B"}'
    group: default
    priority: 0
    config: '{"llmops_key_fingerprint":"hmac-sha256:9f1c...:53ab..."}'
key_updated:
  description: Whether the key was (or in check mode would be) sent to one-api.
  returned: always
  type: bool
  sample: false
"""

import copy

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import (
    FINGERPRINT_CONFIG_KEY,
    OneApiError,
    OneApiRunner,
    dump_json_object,
    fingerprint_matches,
    join_list,
    key_fingerprint,
    parse_json_object,
    split_list,
)

DEFAULT_TYPE = 36
OPENAI_PATH_TYPES = (1, 8, 25, 28, 29, 36)
HIDDEN = "<hidden>"
# one-api's channel status: 1 enabled, 2 manually disabled, 3 disabled by one-api itself (automatic disabling).
STATUS_CODES = {"enabled": 1, "disabled": 2}


def split_stored(value):
    """A comma string as one-api stores it -> list, exactly (one-api does not trim)."""
    return [item for item in (value or "").split(",") if item != ""]


def status_name(code):
    """one-api's status number as this module names it (3, disabled by one-api itself, counts as disabled)."""
    return "enabled" if code in (None, 1) else "disabled"


def current_view(channel):
    """The comparable fields of a channel read from one-api."""
    return dict(
        name=channel.get("name"),
        type=channel.get("type"),
        base_url=channel.get("base_url") or "",
        models=split_stored(channel.get("models")),
        model_mapping=parse_json_object(channel.get("model_mapping"), "model_mapping"),
        group=split_stored(channel.get("group")),
        priority=int(channel.get("priority") or 0),
        status=status_name(channel.get("status")),
    )


def desired_view(params):
    """The comparable fields the user set (None = not managed)."""
    want = dict(
        name=params["name"],
        type=params["type"],
        base_url=None,
        models=None,
        model_mapping=None,
        group=None,
        priority=params.get("priority"),
        status=params.get("status"),
    )
    if params.get("base_url") is not None:
        want["base_url"] = params["base_url"].strip().rstrip("/")
    if params.get("models") is not None:
        want["models"] = split_list(params["models"])
    if params.get("model_mapping") is not None:
        want["model_mapping"] = dict((str(k), str(v)) for k, v in params["model_mapping"].items())
    if params.get("group") is not None:
        want["group"] = split_list(params["group"])
    return want


def key_needs_update(update_key, key, channel_config):
    """Decide whether an existing channel must get ``key``."""
    if key is None or update_key == "on_create":
        return False
    if update_key == "always":
        return True
    return not fingerprint_matches(channel_config.get(FINGERPRINT_CONFIG_KEY), key)


def changed_fields(want, have):
    """Names of the managed fields that differ."""
    return [field for field, value in want.items() if value is not None and value != have.get(field)]


def to_api(field, value):
    if field in ("models", "group"):
        return join_list(value)
    if field == "model_mapping":
        return dump_json_object(value)
    if field == "status":
        return STATUS_CODES[value]
    return value


def build_update_body(channel_id, want, have, key=None, config=None):
    """A partial PUT body: the id and only what changed (one-api skips zero-valued fields anyway)."""
    body = dict(id=channel_id)
    for field in changed_fields(want, have):
        body[field] = to_api(field, want[field])
    if key is not None:
        body["key"] = key
        body["config"] = dump_json_object(config)
    return body


def build_create_body(want, key, fingerprint):
    body = dict(
        name=want["name"],
        type=want["type"] if want["type"] is not None else DEFAULT_TYPE,
        key=key,
        group=join_list(want["group"]) if want["group"] is not None else "default",
        models=join_list(want["models"] or []),
        config=dump_json_object({FINGERPRINT_CONFIG_KEY: fingerprint}),
    )
    if want["base_url"] is not None:
        body["base_url"] = want["base_url"]
    if want["model_mapping"] is not None:
        body["model_mapping"] = dump_json_object(want["model_mapping"])
    if want["priority"] is not None:
        body["priority"] = want["priority"]
    if want["status"] is not None:
        body["status"] = STATUS_CODES[want["status"]]
    return body


def sanitize(channel):
    if not isinstance(channel, dict):
        return {}
    clean = copy.deepcopy(channel)
    clean.pop("key", None)
    return clean


def validate(params, want, warn):
    """Refuse what one-api would refuse or silently mangle; warn about what would never be used."""
    key = params.get("key")
    if key is not None and ("\n" in key or "\r" in key):
        raise ModuleError("key must be a single line: one-api makes one channel per line of the key")
    if key is not None and not key.strip():
        raise ModuleError("key must not be empty (one-api refuses a channel without a key)")
    if want["group"] is not None and not want["group"]:
        raise ModuleError("group must name at least one group (for example 'default')")
    if want["model_mapping"] is not None and want["models"] is not None:
        missing = [k for k in want["model_mapping"] if k not in want["models"]]
        if missing:
            warn(
                "model_mapping keys %s are not in models: one-api routes only the names listed in models, "
                "so these mappings are never used" % ", ".join(missing)
            )
    base_url = want.get("base_url")
    ctype = want["type"] if want["type"] is not None else DEFAULT_TYPE
    if base_url and ctype in OPENAI_PATH_TYPES and base_url.endswith("/v1"):
        warn(
            "base_url ends with /v1, but one-api appends /v1/chat/completions for channel type %d; "
            "the upstream will be called at .../v1/v1/chat/completions" % ctype
        )


def diff_view(view, key_text):
    out = dict((k, v) for k, v in view.items() if v is not None)
    out["key"] = key_text
    return out


class ChannelRunner(OneApiRunner):
    options = dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        type=dict(type="int"),
        base_url=dict(type="str"),
        key=dict(type="str", no_log=True),
        update_key=dict(
            type="str", choices=["when_changed", "on_create", "always"], default="when_changed", no_log=False
        ),
        models=dict(type="list", elements="str"),
        model_mapping=dict(type="dict"),
        group=dict(type="list", elements="str"),
        priority=dict(type="int"),
        status=dict(type="str", choices=["enabled", "disabled"]),
    )

    def run(self):
        p = self.params
        want = desired_view(p)
        validate(p, want, self.warn)
        current = self.client.find_by_name("channel", p["name"])
        if p["state"] == "absent":
            if current:
                self.diff(diff_view(current_view(current), HIDDEN), {})
                self.do("DELETE /api/channel/%s" % current["id"], self.client.delete_channel, current["id"])
            return dict(channel={}, key_updated=False)
        if current is None:
            return self.create(want)
        return self.update(want, current)

    def create(self, want):
        p = self.params
        if p.get("key") is None:
            raise ModuleError(
                "channel %r does not exist and no key is given: one-api needs a key to create a channel" % p["name"]
            )
        body = build_create_body(want, p["key"], key_fingerprint(p["key"]))
        self.diff({}, diff_view(desired_view(dict(p, type=body["type"])), "<hidden, set>"))
        self.do("POST /api/channel/", self.client.create_channel, body)
        if self.check_mode:
            return dict(channel=dict((k, v) for k, v in body.items() if k != "key"), key_updated=True)
        created = self.client.find_by_name("channel", p["name"])
        if created is None:
            raise OneApiError(
                "one-api reported the channel %r as created, but a search by name does not find it" % p["name"]
            )
        return dict(channel=sanitize(created), key_updated=True)

    def update(self, want, current):
        p = self.params
        have = current_view(current)
        if want["models"] is not None and not want["models"] and have["models"]:
            raise ModuleError(
                "one-api cannot clear the models of a channel (empty values are skipped by its update); "
                "give at least one model or delete the channel"
            )
        config = parse_json_object(current.get("config"), "channel config")
        send_key = key_needs_update(p["update_key"], p.get("key"), config)
        new_config = None
        if send_key:
            new_config = dict(config)
            new_config[FINGERPRINT_CONFIG_KEY] = key_fingerprint(p["key"])
        body = build_update_body(current["id"], want, have, key=p["key"] if send_key else None, config=new_config)
        if len(body) == 1:
            return dict(channel=sanitize(current), key_updated=False)
        after = dict(have)
        for field in changed_fields(want, have):
            after[field] = want[field]
        self.diff(diff_view(have, HIDDEN), diff_view(after, "<hidden, replaced>" if send_key else HIDDEN))
        updated = self.do("PUT /api/channel/", self.client.update_channel, body)
        if self.check_mode:
            merged = dict(current)
            merged.update(dict((k, v) for k, v in body.items() if k != "key"))
            return dict(channel=sanitize(merged), key_updated=send_key)
        if not isinstance(updated, dict) or "id" not in updated:
            updated = self.client.get_channel(current["id"])
        return dict(channel=sanitize(updated), key_updated=send_key)


def main():
    ChannelRunner.main()


if __name__ == "__main__":
    main()
