# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters over the collection's model/GPU table (plugins/module_utils/gpu_sizing.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import (
    SizingError,
    fit,
    node_price,
    placement_errors,
    service_plan_errors,
    scaler_errors,
    vllm_service_config,
)


def eas_model_fit(
    model, instance_type, max_model_len, gpu_memory_utilization=0.9, gpu_memory_gib=0, extra_presets=None
):
    """Whether the model fits one GPU of the instance type; an unknown model or type is a non-fit with its message."""
    try:
        return fit(
            model,
            instance_type,
            int(max_model_len),
            float(gpu_memory_utilization),
            float(gpu_memory_gib or 0),
            extra_presets,
        )
    except SizingError as err:
        return dict(fits=False, message=str(err))


def eas_placement_errors(
    instance_type, cpu=0, memory=0, service_instance_count=1, instance_count=1, autoscaler_max=0, cron_max=0
):
    return placement_errors(
        instance_type,
        int(cpu or 0),
        int(memory or 0),
        int(service_instance_count),
        int(instance_count),
        int(autoscaler_max or 0),
        int(cron_max or 0),
    )


def eas_scaler_errors(autoscaler, cron_scaler=None, instance_type='', instance_count=1, dedicated=True):
    return scaler_errors(
        autoscaler if autoscaler is not None else {},
        cron_scaler if cron_scaler is not None else {},
        instance_type,
        instance_count,
        bool(dedicated),
    )


def eas_vllm_service_config(settings):
    try:
        return vllm_service_config(settings)
    except (SizingError, KeyError, TypeError, ValueError) as err:
        raise AnsibleFilterError('eas_vllm_service_config: %s' % err) from err


def eas_service_errors(settings, name):
    return service_plan_errors(settings, name)


class FilterModule:
    def filters(self):
        return dict(
            eas_model_fit=eas_model_fit,
            eas_placement_errors=eas_placement_errors,
            eas_scaler_errors=eas_scaler_errors,
            eas_vllm_service_config=eas_vllm_service_config,
            eas_service_errors=eas_service_errors,
            eas_node_price=node_price,
        )
