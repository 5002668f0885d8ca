# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_channel_info
short_description: Read the channels of one-api
version_added: 1.1.0
description:
  - Lists the channels of one-api (v0.6.6) with one request (C(GET /api/channel/search) with an empty keyword returns
    every channel), optionally only those with the exact names given or whose names start with a prefix.
  - one-api never returns a channel's key; neither does this module.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
extends_documentation_fragment:
  - llmops.eas_stack.oneapi
  - llmops.eas_stack.oneapi.ACTIONGROUP
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.INFO_MODULE
options:
  names:
    description:
      - Only the channels with these exact names (one-api does not keep names unique, so a name may appear more than
        once in the result).
    type: list
    elements: str
  prefixes:
    description:
      - Only the channels whose names start with one of these (also exact names, when O(names) is given too).
    type: list
    elements: str
seealso:
  - module: llmops.eas_stack.oneapi_channel
"""

EXAMPLES = r"""
- name: Read the channels of the catalog (every generation)
  llmops.eas_stack.oneapi_channel_info:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    prefixes: [eas-deepseek]
  register: channels
"""

RETURN = r"""
channels:
  description:
    - The channels, ordered by id, as one-api returns them without the key (C(status) 1 enabled, 2 disabled, 3
      disabled by one-api itself; C(models) and C(group) comma-joined; C(model_mapping) a JSON string).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 1
      name: eas-deepseek
      type: 36
      status: 1
      priority: 0
      models: gpt-4-32k
      model_mapping: '{"gpt-4-32k":"DeepSeek-R1-Distill-Qwen-1.5B"}'
      group: default
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import OneApiRunner


def select(channels, names=None, prefixes=None):
    """The channels matching ``names`` (exact) or ``prefixes``; all of them when neither is given. Keys removed."""
    names = set(names or [])
    prefixes = list(prefixes or [])
    out = []
    for channel in channels or []:
        if not isinstance(channel, dict):
            continue
        name = channel.get("name") or ""
        if (names or prefixes) and name not in names and not any(name.startswith(p) for p in prefixes):
            continue
        clean = dict(channel)
        clean.pop("key", None)
        out.append(clean)
    return sorted(out, key=lambda c: c.get("id") or 0)


class ChannelInfoRunner(OneApiRunner):
    options = dict(
        names=dict(type="list", elements="str"),
        prefixes=dict(type="list", elements="str"),
    )

    def run(self):
        channels = self.client.search("channel", "")
        return dict(changed=False, channels=select(channels, self.params["names"], self.params["prefixes"]))


def main():
    ChannelInfoRunner.main()


if __name__ == "__main__":
    main()
