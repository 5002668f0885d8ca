# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: oneapi_channel_test
short_description: Run one-api's own test of a channel (a real chat through it to the upstream)
version_added: 1.0.0
description:
  - Calls C(GET /api/channel/test/:id) for the channel with this exact name. In v0.6.6 one-api sends
    C(hi) with C(max_tokens=2) to the channel's first model (after mapping) and reports success and latency.
  - Retries with a fixed delay while the test fails (an upstream such as a PAI-EAS service may still be starting),
    logging in only once.
  - Fails when the last attempt fails.
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
      - In check mode the channel is looked up but not tested (a test sends a real chat upstream and records its
        time in one-api); the result has C(skipped=true).
  diff_mode:
    support: none
options:
  name:
    description:
      - The channel name.
    type: str
    required: true
  retries:
    description:
      - How many more times to test after a failed test.
    type: int
    default: 0
  delay:
    description:
      - Seconds between attempts.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Prove that one-api reaches the model
  llmops.eas_stack.oneapi_channel_test:
    url: http://127.0.0.1:5001
    password: "{{ oneapi_root_password }}"
    name: eas-deepseek
    retries: 30
    delay: 10
"""

RETURN = r"""
test:
  description: The answer of the last attempt, and the number of attempts.
  returned: when the channel exists
  type: dict
  contains:
    success:
      description: Whether the upstream answered.
      type: bool
      returned: always
      sample: true
    message:
      description: The error message of a failed test (empty on success in v0.6.6).
      type: str
      returned: always
      sample: ""
    time:
      description: Seconds the upstream took.
      type: float
      returned: always
      sample: 0.42
    attempts:
      description: The number of tests run.
      type: int
      returned: always
      sample: 1
channel_id:
  description: The id of the tested channel.
  returned: when the channel exists
  type: int
  sample: 1
"""

import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.oneapi_client import OneApiRunner


def run_tests(client, channel_id, retries, delay, sleep=time.sleep):
    """Test until success or ``retries`` extra attempts are used; return the last answer with ``attempts``."""
    attempts = 0
    while True:
        attempts += 1
        answer = client.test_channel(channel_id)
        if answer.get("success") is True or attempts > retries:
            return dict(
                success=answer.get("success") is True,
                message=answer.get("message") or "",
                time=answer.get("time"),
                attempts=attempts,
            )
        sleep(delay)


class ChannelTestRunner(OneApiRunner):
    options = dict(
        name=dict(type="str", required=True),
        retries=dict(type="int", default=0),
        delay=dict(type="int", default=10),
    )

    def run(self):
        p = self.params
        channel = self.client.find_by_name("channel", p["name"])
        if self.check_mode:
            # A channel test sends a real chat upstream and records its result in one-api: never in check mode.
            return dict(
                changed=False,
                skipped=True,
                channel_id=(channel or {}).get("id"),
                msg="check mode: channel %r not tested" % p["name"],
            )
        if channel is None:
            raise ModuleError("channel %r does not exist" % p["name"])
        test = run_tests(self.client, channel["id"], max(0, p["retries"]), max(0, p["delay"]))
        if not test["success"]:
            raise ModuleError(
                "one-api's test of channel %r failed after %d attempt(s): %s"
                % (p["name"], test["attempts"], test["message"] or "no message"),
                test=test,
                channel_id=channel["id"],
            )
        return dict(changed=False, test=test, channel_id=channel["id"])


def main():
    ChannelTestRunner.main()


if __name__ == "__main__":
    main()
