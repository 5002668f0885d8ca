# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The read calls of the info modules: what a region offers, its resource groups of a name, its services.

Shared by ``eas_machine_spec_info``, ``eas_resource_group_info``, ``eas_service_info`` and ``eas_region_info`` (which
makes all three reads in one module run: the pre-flight's)."""

from __future__ import annotations

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_groups import group_result, is_managed
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import service_result
from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import usable_from_sold_gb


def spec_view(meta):
    """A DescribeMachineSpec ``InstanceMetas`` item as the modules return it."""

    def num(key, kind=float):
        try:
            return kind(meta.get(key))
        except (TypeError, ValueError):
            return None

    return dict(
        cpu=num('CPU', int),
        memory_gb=num('Memory'),
        gpu=meta.get('GPU'),
        gpus=num('GPUAmount', int),
        gpu_memory_gb=num('GPUMemory'),
        gpu_usable_gib=usable_from_sold_gb(num('GPUMemory')) if num('GPUMemory') else None,
        available=meta.get('IsAvailable') in (True, 'true', 'True'),
        stock=meta.get('StockStatus'),
    )


def machine_spec_argument_spec():
    """Options of the modules that read the region's offer (documented in ``llmops.eas_stack.eas.machine_spec``)."""
    return dict(
        charge_type=dict(type='str', choices=['PostPaid', 'PrePaid']),
        resource_type=dict(type='str', choices=['Dedicated', 'Public']),
    )


def instance_types(client, charge_type=None, resource_type=None, wanted=()):
    """The region's instance types by name (DescribeMachineSpec), only those in ``wanted`` when given."""
    wanted = set(wanted or ())
    metas = client.describe_machine_spec(charge_type=charge_type, resource_type=resource_type)
    return dict(
        (m.get('InstanceType'), spec_view(m))
        for m in metas
        if m.get('InstanceType') and (not wanted or m.get('InstanceType') in wanted)
    )


def groups_named(client, name):
    """The dedicated resource groups named exactly ``name`` (ListResources), each with its nodes
    (ListResourceInstances) and whether this collection created it."""
    groups = []
    for resource in client.find_resources(name):
        instances = client.list_resource_instances(resource['ResourceId'])
        groups.append(dict(group_result(resource, instances), managed=is_managed(instances)))
    return groups


def services_listed(client, https=True, https_intranet=False, **filters):
    """The services of the region matching ``filters`` (ListServices), without endpoints or token: a list never
    carries them (a token the server may send is removed)."""
    services = client.list_services(**dict((k, v) for k, v in filters.items() if v is not None))
    listed = []
    for service in services:
        item = service_result(service, https=https, https_intranet=https_intranet)
        for key in ('access_token', 'internet_endpoint', 'intranet_endpoint'):
            item.pop(key, None)
        listed.append(item)
    return listed
