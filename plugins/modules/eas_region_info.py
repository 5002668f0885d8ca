# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_region_info
short_description: Read in one run what a deployment needs to know of a PAI-EAS region
version_added: 1.1.0
description:
  - The reads of M(llmops.eas_stack.eas_machine_spec_info), M(llmops.eas_stack.eas_resource_group_info) (for each name
    of O(resource_groups)) and M(llmops.eas_stack.eas_service_info) (the list of the region's services) in one module
    run, with one client. It makes the same calls (C(DescribeMachineSpec), C(ListResources) and C(ListResourceInstances)
    per name, C(ListServices)) and returns the same results, without starting the SDK three times.
  - The collection's read-only pre-flight uses it; its reads prove the credentials and the endpoint.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  instance_types:
    description:
      - Read the instance types the region offers (C(DescribeMachineSpec)).
    type: bool
    default: true
  resource_groups:
    description:
      - Names of dedicated resource groups to look for.
    type: list
    elements: str
    default: []
  services:
    description:
      - List the region's services (C(ListServices)).
    type: bool
    default: true
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.eas.machine_spec
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.INFO_MODULE
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
seealso:
  - module: llmops.eas_stack.eas_machine_spec_info
  - module: llmops.eas_stack.eas_resource_group_info
  - module: llmops.eas_stack.eas_service_info
"""

EXAMPLES = r"""
- name: What is offered, which names are taken
  llmops.eas_stack.eas_region_info:
    region: cn-hangzhou
    resource_type: Dedicated
    resource_groups: [llm_gpu_group]
  register: region
"""

RETURN = r"""
instance_types:
  description:
    - The instance types by name, as M(llmops.eas_stack.eas_machine_spec_info) returns them (C(cpu), C(memory_gb),
      C(gpu), C(gpus), C(gpu_memory_gb), C(gpu_usable_gib), C(available), C(stock)).
    - Empty when O(instance_types=false).
  returned: always
  type: dict
resource_groups:
  description:
    - Per name of O(resource_groups), the groups of that name (usually none or one), as
      M(llmops.eas_stack.eas_resource_group_info) returns them (C(id), C(status), C(managed), C(instance_count)...).
  returned: always
  type: dict
services:
  description:
    - The region's services as M(llmops.eas_stack.eas_service_info) lists them (no endpoints, no token).
    - Empty when O(services=false).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_region import (
    groups_named,
    instance_types,
    machine_spec_argument_spec,
    services_listed,
)


class RegionInfoRunner(EASRunner):
    options = dict(
        instance_types=dict(type='bool', default=True),
        **machine_spec_argument_spec(),
        resource_groups=dict(type='list', elements='str', default=[]),
        services=dict(type='bool', default=True),
    )

    def run(self):
        params = self.params
        return dict(
            instance_types=(
                instance_types(self.client, params['charge_type'], params['resource_type'])
                if params['instance_types']
                else {}
            ),
            resource_groups=dict((name, groups_named(self.client, name)) for name in params['resource_groups']),
            services=services_listed(self.client) if params['services'] else [],
        )


def main():
    RegionInfoRunner.main()


if __name__ == '__main__':
    main()
