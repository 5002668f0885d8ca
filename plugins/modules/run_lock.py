# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_lock
short_description: Keep two playbooks from working on one deployment at the same time
version_added: 1.1.0
description:
  - Takes (or releases) a lock on the controller named after O(name), held by the running C(ansible-playbook)
    process. A second playbook that asks for the same lock while the first still runs fails at once, naming the
    playbook that holds it and since when, so that a teardown and a deploy of one inventory never overlap.
  - A lock left by a playbook that ended without releasing it (killed, failed) is taken over, with a warning.
  - An action plugin, so it runs on the controller, whatever the host.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - What is locked, for example the inventory sources of the run.
    type: str
    required: true
  purpose:
    description:
      - What holds the lock, shown to a playbook that has to wait, for example V(site.yml).
    type: str
    default: ansible-playbook
  state:
    description:
      - V(present) takes the lock, V(absent) releases it (only when this run holds it).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - llmops.eas_stack.attributes
attributes:
  check_mode:
    support: full
    details:
      - The lock is taken in check mode too, since a check run must not overlap a change either.
  diff_mode:
    support: none
notes:
  - The lock files are in C(llmops-eas_stack-locks) under the temporary directory (or E(LLMOPS_LOCK_DIR)).
"""

EXAMPLES = r"""
- name: One playbook at a time on this inventory
  llmops.eas_stack.run_lock:
    name: "{{ ansible_inventory_sources | join(',') }}"
    purpose: site.yml
  run_once: true
"""

RETURN = r"""
holder:
  description: Who holds the lock now (C(pid), C(purpose), C(started)).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            purpose=dict(type='str', default='ansible-playbook'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg='llmops.eas_stack.run_lock is an action plugin: it runs on the controller only')


if __name__ == '__main__':
    main()
