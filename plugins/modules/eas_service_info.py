# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_service_info
short_description: Read PAI-EAS online services
version_added: 1.0.0
description:
  - With O(name), describes one service (C(DescribeService)), including its endpoints and token.
  - Without O(name), lists services (C(ListServices)) matching the filters. Lists carry no endpoints and no token
    (the module removes a token the server may send in a list); use O(name) for those.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The exact service name. An unknown name returns an empty RV(services) list.
    type: str
  filter:
    description:
      - A fuzzy match on the service name (list mode).
    type: str
  resource_id:
    description:
      - Only services in this resource group (C(eas-r-...)) (list mode).
    type: str
  status:
    description:
      - Only services with this status, for example V(Running) (list mode).
    type: str
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.eas.service_endpoints
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.INFO_MODULE
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
seealso:
  - module: llmops.eas_stack.eas_service
"""

EXAMPLES = r"""
- name: Read one service with endpoint and token
  llmops.eas_stack.eas_service_info:
    region: cn-hangzhou
    name: ds_r1_qwen_1_5b
  register: info
  no_log: true

- name: List the services of a resource group
  llmops.eas_stack.eas_service_info:
    region: cn-hangzhou
    resource_id: eas-r-xxxxxxxx
  register: in_group
"""

RETURN = r"""
services:
  description: The services found.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Service name.
      type: str
    id:
      description: Service id.
      type: str
    status:
      description: Service status.
      type: str
    reason:
      description: Status reason.
      type: str
    message:
      description: Status message.
      type: str
    internet_endpoint:
      description: Public endpoint (only with O(name)), with V(https://) unless O(https_endpoints=false).
      type: str
    intranet_endpoint:
      description: VPC endpoint (only with O(name)).
      type: str
    access_token:
      description: Service token (only with O(name), never in list mode). Secret; set C(no_log) on the task.
      type: str
    config:
      description: The parsed service config.
      type: dict
    resource:
      description: Resource group id.
      type: str
    running_instance:
      description: Running instances.
      type: int
    total_instance:
      description: Wanted instances.
      type: int
    current_version:
      description: Current config version.
      type: int
    latest_version:
      description: Latest config version.
      type: int
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_region import services_listed
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import (
    service_endpoints_argument_spec,
    service_result,
)


class ServiceInfoRunner(EASRunner):
    options = dict(
        name=dict(type='str'),
        filter=dict(type='str'),
        resource_id=dict(type='str'),
        status=dict(type='str'),
        **service_endpoints_argument_spec(),
    )

    def run(self):
        params = self.params
        endpoints = dict(https=params['https_endpoints'], https_intranet=params['https_intranet_endpoint'])
        if params['name']:
            service = self.client.describe_service(params['name'])
            return dict(services=[service_result(service, **endpoints)] if service else [])
        return dict(
            services=services_listed(
                self.client,
                filter=params['filter'],
                resource_id=params['resource_id'],
                service_status=params['status'],
                **endpoints,
            )
        )


def main():
    ServiceInfoRunner.main()


if __name__ == '__main__':
    main()
