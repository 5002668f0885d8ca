# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_resource_group
short_description: Manage a PAI-EAS dedicated resource group and its GPU nodes
version_added: 1.0.0
description:
  - Creates a PAI-EAS dedicated resource group with O(instance_count) nodes of O(instance_type), scales the number
    of nodes up and down, and deletes the nodes and then the group.
  - The group is found by O(resource_id) when given, otherwise by its exact O(name) (C(ListResources) filtered by
    C(ResourceName)). More than one group with that name is an error that lists their ids.
  - Creation waits until the group is C(ResourceReady) and all its nodes are C(Ready). A node that fails to be
    created (C(CreateFailed), usually a GPU stock-out) ends the wait at once.
  - Returns what one node can still allocate (C(InstanceMaxAllocatable*)), which is what a service's
    C(metadata.cpu), C(metadata.memory) and C(metadata.gpu) must fit into.
  - In check mode only read requests are sent.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The resource group name (C(ResourceName), at most 27 characters).
    type: str
    required: true
  resource_id:
    description:
      - The group id (C(eas-r-...)). When given, the group is looked up by id instead of by name.
    type: str
  state:
    description:
      - V(present) creates the group or scales it to O(instance_count). V(absent) deletes its nodes, waits until
        they are gone, then deletes the group; this is what stops the billing.
    type: str
    choices: [present, absent]
    default: present
  instance_type:
    description:
      - The ECS GPU instance type of the nodes, for example V(ecs.gn7i-c8g1.2xlarge) (8 vCPU, 30 GiB, 1 x A10 24 GB).
      - Required to create the group. When scaling up an existing group without it, the type of its existing
        nodes is used.
    type: str
  instance_count:
    description:
      - The number of nodes. Required to create the group. Nodes that failed to be created or are being deleted
        do not count. Scaling down deletes nodes that are not C(Ready) first, then the newest.
    type: int
  charge_type:
    description:
      - Billing of new nodes. Only V(PostPaid) (pay-as-you-go) nodes can be deleted by this module.
    type: str
    choices: [PostPaid, PrePaid]
    default: PostPaid
  zone:
    description:
      - The zone of new nodes, for example V(cn-hangzhou-h).
    type: str
  system_disk_size:
    description:
      - System disk size of new nodes in GiB (200 to 2000; the server default is 200).
    type: int
  force:
    description:
      - With O(state=absent), the module refuses to delete a group that still has services
        (C(ListServices(ResourceId=...))). With V(true) it deletes those services first.
    type: bool
    default: false
  wait:
    description:
      - Wait until the group is ready (or deleted).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each phase (nodes ready, nodes deleted, group deleted).
    type: int
    default: 1800
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
attributes:
  check_mode:
    support: full
    details:
      - Only ListResources, DescribeResource, ListResourceInstances and ListServices are called.
  diff_mode:
    support: full
notes:
  - B(Cost.) The nodes of a dedicated group are billed (pay-as-you-go, per hour) from creation until they are
    deleted, whether a service runs on them or not. Stopping a service does not stop billing; O(state=absent) does.
seealso:
  - module: llmops.eas_stack.eas_service
"""

EXAMPLES = r"""
- name: One A10 node, the blog's setup
  llmops.eas_stack.eas_resource_group:
    region: cn-hangzhou
    name: llm_group
    instance_type: ecs.gn7i-c8g1.2xlarge
    instance_count: 1
  register: group

- name: Size the service from what one node can allocate
  ansible.builtin.debug:
    msg: "cpu {{ group.resource_group.allocatable_cpu }}, memory {{ group.resource_group.allocatable_memory }} MB"

- name: Delete the nodes and the group (stops the billing), even if services still use it
  llmops.eas_stack.eas_resource_group:
    region: cn-hangzhou
    name: llm_group
    state: absent
    force: true
"""

RETURN = r"""
resource_group:
  description: The group after the task (before it, in check mode). Empty when absent.
  returned: always
  type: dict
  contains:
    id:
      description: The group id.
      type: str
      sample: eas-r-abc123
    name:
      description: The group name.
      type: str
    status:
      description: The group status, C(ResourceReady) when usable.
      type: str
      sample: ResourceReady
    instance_count:
      description: Nodes that count (not C(CreateFailed), not C(Deleting)).
      type: int
    instance_type:
      description: The type of the nodes (of the first node when they differ).
      type: str
    instances:
      description: The nodes, with C(id), C(status), C(type), C(charge_type), C(zone).
      type: list
      elements: dict
    allocatable_cpu:
      description: CPU cores one node can still allocate (C(InstanceMaxAllocatableCPU)). A node reserves one core.
      type: float
    allocatable_gpu:
      description: GPUs one node can still allocate (C(InstanceMaxAllocatableGPU)).
      type: float
    allocatable_memory:
      description: Memory in MB one node can still allocate (C(InstanceMaxAllocatableMemory)).
      type: float
    cpu_count:
      description: Total CPU cores.
      type: int
    gpu_count:
      description: Total GPUs.
      type: int
    memory:
      description: Total memory in MB.
      type: int
    service_count:
      description: Services in the group.
      type: int
actions:
  description: The API actions performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    active_instances,
    wait_for_instances_gone,
    wait_for_resource_gone,
    wait_for_resource_group,
    wait_for_service,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError


def _num(value, kind=float):
    if value is None or value == '':
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def group_result(resource, instances):
    if not resource:
        return {}
    active = active_instances(instances or [])
    return dict(
        id=resource.get('ResourceId'),
        name=resource.get('ResourceName'),
        status=resource.get('Status'),
        message=resource.get('Message'),
        instance_count=len(active) if instances is not None else _num(resource.get('InstanceCount'), int),
        instance_type=(active or instances or [{}])[0].get('InstanceType') if instances else None,
        instances=[
            dict(
                id=i.get('InstanceId'),
                status=i.get('InstanceStatus'),
                type=i.get('InstanceType'),
                charge_type=i.get('ChargeType'),
                zone=i.get('Zone'),
            )
            for i in instances or []
        ],
        allocatable_cpu=_num(resource.get('InstanceMaxAllocatableCPU')),
        allocatable_gpu=_num(resource.get('InstanceMaxAllocatableGPU')),
        allocatable_memory=_num(resource.get('InstanceMaxAllocatableMemory')),
        cpu_count=_num(resource.get('CpuCount'), int),
        gpu_count=_num(resource.get('GpuCount'), int),
        memory=_num(resource.get('Memory'), int),
        service_count=_num(resource.get('ServiceCount'), int),
    )


def pick_for_deletion(instances, count):
    """Nodes to delete when scaling down: not Ready first, then the newest."""
    not_ready = [i for i in instances if i.get('InstanceStatus') != 'Ready']
    ready = sorted(
        [i for i in instances if i.get('InstanceStatus') == 'Ready'],
        key=lambda i: str(i.get('CreateTime') or ''),
        reverse=True,
    )
    return (not_ready + ready)[:count]


class ResourceGroupRunner(EASRunner):
    options = dict(
        name=dict(type='str', required=True),
        resource_id=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        instance_type=dict(type='str'),
        instance_count=dict(type='int'),
        charge_type=dict(type='str', default='PostPaid', choices=['PostPaid', 'PrePaid']),
        zone=dict(type='str'),
        system_disk_size=dict(type='int'),
        force=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=1800),
    )

    def find(self):
        name = self.params['name']
        if self.params['resource_id']:
            return self.client.describe_resource(self.params['resource_id'])
        matches = [r for r in self.client.list_resources(resource_name=name) if r.get('ResourceName') == name]
        if len(matches) > 1:
            raise ModuleError(
                '%d resource groups are named %s (%s); set resource_id to choose one'
                % (len(matches), name, ', '.join(str(r.get('ResourceId')) for r in matches))
            )
        if not matches:
            return None
        # ListResources and DescribeResource differ (ExtraData, ServiceCount types); use DescribeResource.
        return self.client.describe_resource(matches[0]['ResourceId']) or matches[0]

    def run(self):
        params = self.params
        resource = self.find()
        instances = self.client.list_resource_instances(resource['ResourceId']) if resource else []
        before = dict(
            state='present' if resource else 'absent',
            instance_count=len(active_instances(instances)) if resource else 0,
        )
        if params['state'] == 'absent':
            resource, instances, after = self.absent(resource, instances)
        else:
            resource, instances, after = self.present(resource, instances)
        self.diff(before, after)
        return dict(resource_group=group_result(resource, instances))

    def absent(self, resource, instances):
        after = dict(state='absent', instance_count=0)
        if resource is None:
            return None, [], after
        rid = resource['ResourceId']
        services = self.client.list_services(resource_id=rid)
        if services:
            names = ', '.join(str(s.get('ServiceName')) for s in services)
            if not self.params['force']:
                raise ModuleError(
                    'resource group %s (%s) still has services: %s. Delete them first (eas_service state=absent) '
                    'or set force=true to delete them with the group.' % (self.params['name'], rid, names),
                    resource_group=group_result(resource, instances),
                )
            for service in services:
                self.do('DeleteService', self.client.delete_service, service.get('ServiceName'))
            if not self.check_mode:
                for service in services:
                    wait_for_service(self.client, service.get('ServiceName'), 'absent', self.params['wait_timeout'])
        to_delete = [i['InstanceId'] for i in instances if i.get('InstanceStatus') != 'Deleting']
        if to_delete:
            self.do('DeleteResourceInstances', self.client.delete_resource_instances, rid, to_delete)
        if not self.check_mode and instances:
            # DeleteResource is rejected while the group still has nodes: always wait for them.
            wait_for_instances_gone(self.client, rid, [i['InstanceId'] for i in instances], self.params['wait_timeout'])
        self.do('DeleteResource', self.client.delete_resource, rid)
        if self.check_mode:
            return resource, instances, after
        if self.params['wait']:
            wait_for_resource_gone(self.client, rid, self.params['wait_timeout'])
        return None, [], after

    def present(self, resource, instances):
        params = self.params
        count = params['instance_count']
        if count is not None and count < 1:
            raise ModuleError(
                'instance_count must be at least 1 (use state=absent to delete the group), got %s' % count
            )
        if resource is None:
            return self.create(count)
        rid = resource['ResourceId']
        active = active_instances(instances)
        after = dict(state='present', instance_count=count if count is not None else len(active))
        if params['instance_type'] and any(
            i.get('InstanceType') not in (None, params['instance_type']) for i in active
        ):
            self.warn(
                'resource group %s has nodes of another type than %s; existing nodes are not changed, '
                'only new nodes get the requested type' % (params['name'], params['instance_type'])
            )
        failed = [i for i in instances if i.get('InstanceStatus') == 'CreateFailed']
        if failed:
            self.warn(
                'resource group %s has %d node(s) that failed to be created (%s); they are not counted'
                % (params['name'], len(failed), ', '.join(i.get('InstanceId') for i in failed))
            )
        if count is not None and count > len(active):
            instance_type = params['instance_type'] or (active[0].get('InstanceType') if active else None)
            if not instance_type:
                raise ModuleError('instance_type is required to add nodes to resource group %s' % params['name'])
            self.do(
                'CreateResourceInstances',
                self.client.create_resource_instances,
                rid,
                instance_type,
                count - len(active),
                params['charge_type'],
                params['zone'],
                params['system_disk_size'],
            )
        elif count is not None and count < len(active):
            victims = pick_for_deletion(active, len(active) - count)
            self.do(
                'DeleteResourceInstances',
                self.client.delete_resource_instances,
                rid,
                [i['InstanceId'] for i in victims],
            )
            if not self.check_mode and params['wait']:
                wait_for_instances_gone(self.client, rid, [i['InstanceId'] for i in victims], params['wait_timeout'])
        if self.check_mode:
            return resource, instances, after
        if params['wait'] and (self.actions or resource.get('Status') != 'ResourceReady'):
            resource, instances = wait_for_resource_group(
                self.client, rid, params['wait_timeout'], expected_count=count
            )
        elif self.actions:
            resource = self.client.describe_resource(rid) or resource
            instances = self.client.list_resource_instances(rid)
        return resource, instances, after

    def create(self, count):
        params = self.params
        if params['resource_id']:
            raise ModuleError('resource group %s does not exist' % params['resource_id'])
        missing = [opt for opt in ('instance_type', 'instance_count') if params[opt] is None]
        if missing:
            raise ModuleError(
                'resource group %s does not exist; %s required to create it'
                % (params['name'], ' and '.join(missing) + (' is' if len(missing) == 1 else ' are'))
            )
        created = self.do(
            'CreateResource',
            self.client.create_resource,
            params['name'],
            params['instance_type'],
            count,
            params['charge_type'],
            params['zone'],
            params['system_disk_size'],
        )
        after = dict(state='present', instance_count=count)
        if self.check_mode:
            return dict(ResourceName=params['name']), [], after
        rid = created.get('ResourceId')
        if params['wait']:
            resource, instances = wait_for_resource_group(
                self.client, rid, params['wait_timeout'], expected_count=count
            )
        else:
            resource = self.client.describe_resource(rid) or dict(ResourceId=rid, ResourceName=params['name'])
            instances = self.client.list_resource_instances(rid)
        return resource, instances, after


def main():
    ResourceGroupRunner.main()


if __name__ == '__main__':
    main()
