# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_resource_group_info
short_description: Read the PAI-EAS dedicated resource groups of a name
version_added: 1.1.0
description:
  - Lists the dedicated resource groups named exactly O(name) (C(ListResources)), with their nodes
    (C(ListResourceInstances)) and whether this collection created them (their nodes carry the label
    C(managed-by=llmops.eas_stack)).
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The group name.
    type: str
    required: true
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.INFO_MODULE
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
seealso:
  - module: llmops.eas_stack.eas_resource_group
"""

EXAMPLES = r"""
- name: Is the name free, or ours?
  llmops.eas_stack.eas_resource_group_info:
    region: cn-hangzhou
    name: llm_gpu_group
  register: groups
"""

RETURN = r"""
resource_groups:
  description: The groups of that name (usually none or one), as M(llmops.eas_stack.eas_resource_group) returns them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The group id.
      type: str
    managed:
      description: Whether this collection created it.
      type: bool
    instance_count:
      description: Nodes that count (not failed, not being deleted).
      type: int
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_region import groups_named


class ResourceGroupInfoRunner(EASRunner):
    options = dict(name=dict(type='str', required=True))

    def run(self):
        return dict(resource_groups=groups_named(self.client, self.params['name']))


def main():
    ResourceGroupInfoRunner.main()


if __name__ == '__main__':
    main()
