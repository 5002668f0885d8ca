# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_machine_spec_info
short_description: Read the instance types a PAI-EAS region offers, with their GPUs and stock
version_added: 1.1.0
description:
  - Calls C(DescribeMachineSpec) and returns the instance types of the region with their vCPUs, memory, GPU type,
    count and memory, whether they are available and in stock.
  - A read call that needs working credentials and a reachable endpoint, so the collection's pre-flight uses it to
    prove both before anything is bought.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  instance_types:
    description:
      - Only these instance types (all when empty).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.eas.machine_spec
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.INFO_MODULE
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
seealso:
  - module: llmops.eas_stack.eas_resource_group
"""

EXAMPLES = r"""
- name: Is the A10 node in stock?
  llmops.eas_stack.eas_machine_spec_info:
    region: cn-hangzhou
    instance_types: [ecs.gn7i-c8g1.2xlarge]
  register: specs
"""

RETURN = r"""
instance_types:
  description: The instance types, by name.
  returned: always
  type: dict
  sample:
    ecs.gn7i-c8g1.2xlarge: {cpu: 8, memory_gb: 30, gpu: NVIDIA A10, gpus: 1, gpu_memory_gb: 24, available: true,
                            stock: WithStock}
  contains:
    cpu:
      description: vCPUs.
      type: int
    memory_gb:
      description: Memory in GB.
      type: float
    gpu:
      description: The GPU type.
      type: str
    gpus:
      description: GPUs per node.
      type: int
    gpu_memory_gb:
      description: Memory per GPU in GB (as sold).
      type: float
    gpu_usable_gib:
      description: Memory per GPU in GiB as CUDA reports it (what vLLM budgets), from RV(instance_types.gpu_memory_gb).
      type: float
    available:
      description: Whether the type is offered (C(IsAvailable)).
      type: bool
    stock:
      description: C(WithStock), C(ClosedWithStock) or C(NoStock).
      type: str
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_region import (
    instance_types,
    machine_spec_argument_spec,
)


class MachineSpecRunner(EASRunner):
    options = dict(
        instance_types=dict(type='list', elements='str', default=[]),
        **machine_spec_argument_spec(),
    )

    def run(self):
        params = self.params
        return dict(
            instance_types=instance_types(
                self.client, params['charge_type'], params['resource_type'], params['instance_types']
            )
        )


def main():
    MachineSpecRunner.main()


if __name__ == '__main__':
    main()
