# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A dedicated resource group as the modules see it: its name rule, the nodes that count, what it returns."""

from __future__ import annotations

import re

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import MANAGED_LABELS, labels_dict


def active_instances(instances):
    """Resource-group instances that count towards instance_count (not CreateFailed, not Deleting)."""
    return [i for i in instances if i.get('InstanceStatus') not in ('CreateFailed', 'Deleting')]


GROUP_NAME_RE = re.compile(r'^[^\s/\\]{1,27}$')


def number(value, kind=float):
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
    listed = bool(instances)
    return dict(
        id=resource.get('ResourceId'),
        name=resource.get('ResourceName'),
        status=resource.get('Status'),
        message=resource.get('Message'),
        instance_count=len(active) if listed else number(resource.get('InstanceCount'), int),
        instance_type=(active or instances or [{}])[0].get('InstanceType') if listed else None,
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
        allocatable_cpu=number(resource.get('InstanceMaxAllocatableCPU')),
        allocatable_gpu=number(resource.get('InstanceMaxAllocatableGPU')),
        allocatable_memory=number(resource.get('InstanceMaxAllocatableMemory')),
        cpu_count=number(resource.get('CpuCount'), int),
        gpu_count=number(resource.get('GpuCount'), int),
        memory=number(resource.get('Memory'), int),
        service_count=number(resource.get('ServiceCount'), int),
    )


def pick_for_deletion(instances, count):
    """Nodes to delete when scaling down: not Ready first, then idle ones (no service instance on them: nothing
    allocated, ``InstanceUsedGpu``/``InstanceUsedCpu`` 0), then the newest."""
    not_ready = [i for i in instances if i.get('InstanceStatus') != 'Ready']
    ready = sorted(
        [i for i in instances if i.get('InstanceStatus') == 'Ready'],
        key=lambda i: str(i.get('CreateTime') or ''),
        reverse=True,
    )
    ready.sort(key=lambda i: bool(number(i.get('InstanceUsedGpu')) or number(i.get('InstanceUsedCpu'))))
    return (not_ready + ready)[:count]


def is_managed(instances):
    """A group this collection created: its nodes carry the labels CreateResource gave them."""
    return bool(instances) and all(
        labels_dict(i.get('Labels')).get(key) == value for i in instances for key, value in MANAGED_LABELS.items()
    )
