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
    C(ResourceName)).
  - B(Never billed twice.) Looking for the group and creating it is one step for every run on the controller (a
    lock file), so a run started while another one, or a module a killed run left behind, is creating the group waits
    for it and then finds the group. After a create that failed with a 5xx or a network error, the module looks for
    the group before it fails. The nodes of a group it creates carry the label C(managed-by=llmops.eas_stack);
    when several groups have the name and all carry it (a create repeated after a killed run), the one with services
    (else the oldest) is kept and the others are deleted, with a warning naming them. Otherwise several groups with
    the name are an error naming their ids; O(state=absent) with O(force=true) deletes all of them.
  - A rerun with nothing to change reads the group once (C(ListResources)).
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
      - An API that does not answer (network, throttling, 5xx, an HTML error page) does not end the wait, from the
        first read of the group on; the wait goes on until O(wait_timeout) and says how long the API did not answer.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each phase (nodes ready, nodes deleted, group deleted).
    type: int
    default: 1800
  wait_window:
    description:
      - Seconds after which a wait returns RV(waiting=true) and RV(progress) instead of going on (0 = wait until
        O(wait_timeout)). The module's action plugin uses it to show progress every 30 seconds and calls the module
        again, which finds where it is and goes on; there is no need to set it by hand.
    type: int
    default: 0
  wait_state:
    description:
      - What a later wait window carries on (RV(wait_state) of the previous window). Set by the action plugin.
    type: dict
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
waiting:
  description: True when a O(wait_window) ended before the wait did.
  returned: with O(wait_window)
  type: bool
progress:
  description: One line on what the wait is at (status, nodes ready).
  returned: when RV(waiting) is true
  type: str
wait_state:
  description: What the next window needs (O(wait_state)).
  returned: when RV(waiting) is true
  type: dict
"""

import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASError, EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_group_waiter import (
    wait_for_instances_gone,
    wait_for_resource_gone,
    wait_for_resource_group,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_groups import (
    GROUP_NAME_RE,
    active_instances,
    group_result,
    is_managed,
    number,
    pick_for_deletion,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import MANAGED_LABELS
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    WaitWindowElapsed,
    read_through_outage,
    wait_for_service,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError
from ansible_collections.llmops.eas_stack.plugins.module_utils.locks import exclusive, signals_held

# After a create that failed with a 5xx or a network error, how long to look for the group it may have made.
LOOK_AGAIN_SECONDS = 20


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
        wait_window=dict(type='int', default=0),
        wait_state=dict(type='dict'),
    )

    def __init__(self, module):
        super().__init__(module)
        self.unreachable = float((self.params['wait_state'] or {}).get('unreachable', 0.0))

    def timeout(self):
        window = self.params['wait_window']
        return min(window, self.params['wait_timeout']) if window else self.params['wait_timeout']

    def wait(self, func, *args, **kwargs):
        return func(self.client, *args, window=self.params['wait_window'] > 0, unreachable=self.unreachable, **kwargs)

    def find(self):
        """The group (a ListResources entry, or DescribeResource with resource_id), or None. Duplicates are resolved
        when they are all this collection's own, else reported with their ids."""
        if self.params['resource_id']:
            return self.first_read(lambda client: client.describe_resource(self.params['resource_id']))
        matches = self.first_read(lambda client: client.find_resources(self.params['name']))
        if len(matches) > 1:
            return self.resolve_duplicates(matches)
        return matches[0] if matches else None

    def first_read(self, read):
        """``read(client)`` before anything is done. With a wait (not in check mode), an API that does not answer is
        waited out within the wait's time, as during the wait itself: a task that starts during an outage goes on
        once the API is back."""
        if not self.params['wait'] or self.check_mode:
            return read(self.client)
        polling = self.client.polling()
        value, self.unreachable = read_through_outage(
            lambda: read(polling),
            'resource group %s' % (self.params['resource_id'] or self.params['name']),
            self.timeout(),
            window=self.params['wait_window'] > 0,
            unreachable=self.unreachable,
        )
        return value

    def resolve_duplicates(self, matches):
        name, ids = self.params['name'], ', '.join(str(r.get('ResourceId')) for r in matches)
        if self.params['state'] == 'absent' and self.params['force']:
            self.duplicates = matches[1:]
            return matches[0]
        nodes = dict((r['ResourceId'], self.client.list_resource_instances(r['ResourceId'])) for r in matches)
        if not all(is_managed(nodes[r['ResourceId']]) for r in matches):
            raise ModuleError(
                '%d resource groups are named %s (%s) and not all of them were created by this collection; set '
                'resource_id to choose one, or delete the extra ones (state=absent with force=true deletes all of '
                'them)' % (len(matches), name, ids)
            )
        # A create repeated after a killed run: keep the group that has services, else the oldest; delete the others.
        keep = sorted(matches, key=lambda r: (-int(number(r.get('ServiceCount'), int) or 0), str(r.get('CreateTime'))))[
            0
        ]
        for extra in matches:
            if extra is not keep:
                self.warn(
                    'resource group %s (%s) is a duplicate this collection created (%s is kept): deleting it'
                    % (name, extra['ResourceId'], keep['ResourceId'])
                )
                self.delete_group(extra, nodes[extra['ResourceId']])
        return keep

    def run(self):
        params = self.params
        if not GROUP_NAME_RE.match(params['name'] or ''):
            raise ModuleError(
                'name %r is not a resource group name: 1 to 27 characters, no spaces or slashes' % params['name']
            )
        self.duplicates = []
        count = params['instance_count']
        if params['state'] == 'present' and count is not None and count < 1:
            raise ModuleError(
                'instance_count must be at least 1 (use state=absent to delete the group), got %s' % count
            )
        try:
            # Looking for the group and creating it is one step for every run on this controller: a run started while
            # another (or one a killed run left behind) is creating the group waits, then finds it. Waits are outside.
            with exclusive(
                'eas-group %s %s' % (self.client.region, params['name']),
                params['wait_timeout'],
                'creating resource group %s' % params['name'],
            ):
                resource = self.find()
                created = None
                if params['state'] == 'present' and resource is None:
                    created = self.create_group(count)
            if params['state'] == 'absent':
                return self.absent(resource)
            if resource is None:
                return self.created(created, count)
            return self.present(resource)
        except WaitWindowElapsed as window:
            return dict(
                waiting=True,
                progress=window.progress,
                wait_state=dict(window.state, unreachable=window.state.get('unreachable', 0.0)),
                resource_group=group_result(*(window.last if isinstance(window.last, tuple) else (None, []))),
            )

    def finish(self, before, after, resource, instances):
        self.diff(before, after)
        return dict(resource_group=group_result(resource, instances))

    def delete_group(self, resource, instances):
        """Delete the nodes, wait until they are gone (DeleteResource is refused before), delete the group."""
        rid = resource['ResourceId']
        to_delete = [i['InstanceId'] for i in instances if i.get('InstanceStatus') != 'Deleting']
        if to_delete:
            self.do('DeleteResourceInstances', self.client.delete_resource_instances, rid, to_delete)
        if self.check_mode:
            self.do('DeleteResource')
            return
        if instances:
            self.wait(wait_for_instances_gone, rid, [i['InstanceId'] for i in instances], self.timeout())
        self.do('DeleteResource', self.client.delete_resource, rid)
        if self.params['wait']:
            self.wait(wait_for_resource_gone, rid, self.timeout())

    def absent(self, resource):
        before = dict(state='present' if resource else 'absent')
        after = dict(state='absent', instance_count=0)
        if resource is None:
            return self.finish(dict(before, instance_count=0), after, None, [])
        for group in [resource] + self.duplicates:
            rid = group['ResourceId']
            instances = self.client.list_resource_instances(rid)
            before.setdefault('instance_count', len(active_instances(instances)))
            services = self.client.list_services(resource_id=rid)
            if services and not self.params['force']:
                raise ModuleError(
                    'resource group %s (%s) still has services: %s. Delete them first (eas_service state=absent) '
                    'or set force=true to delete them with the group.'
                    % (self.params['name'], rid, ', '.join(str(s.get('ServiceName')) for s in services)),
                    resource_group=group_result(group, instances),
                )
            for service in services:
                if service.get('Status') != 'Deleting':
                    self.do('DeleteService', self.client.delete_service, service.get('ServiceName'))
            if not self.check_mode:
                for service in services:
                    wait_for_service(
                        self.client,
                        service.get('ServiceName'),
                        'absent',
                        self.timeout(),
                        window=self.params['wait_window'] > 0,
                    )
            self.delete_group(group, instances)
        return self.finish(before, after, resource if self.check_mode else None, [])

    def present(self, resource):
        params = self.params
        count = params['instance_count']
        rid = resource['ResourceId']
        before = dict(state='present', instance_count=number(resource.get('InstanceCount'), int))
        if (
            resource.get('Status') == 'ResourceReady'
            and count is not None
            and number(resource.get('InstanceCount'), int) == count
            and not params['resource_id']
        ):
            # Nothing to do: the one read of a rerun (ListResources) says so.
            return self.finish(before, dict(before), resource, None)
        resource = self.client.describe_resource(rid) or resource
        instances = self.client.list_resource_instances(rid)
        active = active_instances(instances)
        before['instance_count'] = len(active)
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
                labels=dict(MANAGED_LABELS) if is_managed(active) else None,
            )
        elif count is not None and count < len(active):
            victims = [i['InstanceId'] for i in pick_for_deletion(active, len(active) - count)]
            self.do('DeleteResourceInstances', self.client.delete_resource_instances, rid, victims)
            if not self.check_mode and params['wait']:
                self.wait(wait_for_instances_gone, rid, victims, self.timeout())
        if self.check_mode:
            return self.finish(before, after, resource, instances)
        if params['wait'] and (
            self.actions or resource.get('Status') != 'ResourceReady' or len(active) != len(instances)
        ):
            resource, instances = self.wait(wait_for_resource_group, rid, self.timeout(), expected_count=count)
        elif self.actions:
            resource = self.client.describe_resource(rid) or resource
            instances = self.client.list_resource_instances(rid)
        return self.finish(before, after, resource, instances)

    def create_group(self, count):
        """CreateResource (labelled as this collection's); after a 5xx or network error, look before failing."""
        params = self.params
        if params['resource_id']:
            raise ModuleError('resource group %s does not exist' % params['resource_id'])
        missing = [opt for opt in ('instance_type', 'instance_count') if params[opt] is None]
        if missing:
            raise ModuleError(
                'resource group %s does not exist; %s required to create it'
                % (params['name'], ' and '.join(missing) + (' is' if len(missing) == 1 else ' are'))
            )
        try:
            # A Ctrl-C or TERM of the run waits for the answer: the server may create the group all the same.
            with signals_held():
                return self.do(
                    'CreateResource',
                    self.client.create_resource,
                    params['name'],
                    params['instance_type'],
                    count,
                    params['charge_type'],
                    params['zone'],
                    params['system_disk_size'],
                    MANAGED_LABELS,
                )
        except EASError as err:
            found = self.look_again() if err.retryable else None
            if found is None:
                raise
            self.warn('CreateResource of %s answered %s, but the group exists: continuing' % (params['name'], err))
            return found

    def created(self, created, count):
        params = self.params
        before, after = dict(state='absent', instance_count=0), dict(state='present', instance_count=count)
        if self.check_mode:
            return self.finish(before, after, dict(ResourceName=params['name']), [])
        rid = created.get('ResourceId')
        if params['wait']:
            resource, instances = self.wait(wait_for_resource_group, rid, self.timeout(), expected_count=count)
        else:
            resource = self.client.describe_resource(rid) or dict(ResourceId=rid, ResourceName=params['name'])
            instances = self.client.list_resource_instances(rid)
        return self.finish(before, after, resource, instances)

    def look_again(self, sleep=None):
        """The group, when a failed create made it after all (it may take a moment to be listed), else None."""
        deadline = time.monotonic() + LOOK_AGAIN_SECONDS
        while True:
            try:
                matches = self.client.polling().find_resources(self.params['name'])
            except EASError:
                matches = []
            if matches:
                return matches[0]
            if time.monotonic() >= deadline:
                return None
            (sleep or time.sleep)(2)


def main():
    ResourceGroupRunner.main()


if __name__ == '__main__':
    main()
