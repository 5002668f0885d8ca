# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DescribeMachineSpec (``GET /api/v2/public/instance_types``) and the lab's stock knob (``/_lab/stock``).

The answer is the SDK 6.17.0 ``DescribeMachineSpecResponseBody``: ``InstanceMetas`` [{``CPU``, ``GPU`` (GPU model,
only for GPU types), ``GPUAmount``, ``GPUMemory`` (GB per GPU), ``InstanceType``, ``IsAvailable``, ``Memory`` (GB),
``NonProtectSpotDiscount`` / ``SpotDiscount`` (only where spot instances are sold: public group, pay-as-you-go),
``StockStatus`` (``WithStock`` | ``ClosedWithStock`` | ``NoStock``), ``Vendor``}], ``Types`` [{``CPU``, ``Memory``
[MB...]}] and ``RequestId``.
"""

from __future__ import annotations

from .catalog import INSTANCE_TYPES, InstanceType, lookup_instance_type
from .common import ApiError, Request, Response, as_bool
from .state import STOCK_STATUSES, Store

RESOURCE_TYPES = ('Public', 'Dedicated')
CHARGE_TYPES = ('PostPaid', 'PrePaid')


def gpu_model(itype: InstanceType) -> str:
    """The GPU model as DescribeMachineSpec names it (``A10``, ``T4``, ``GU30``), without the vendor."""
    return itype.gpu_type.replace('NVIDIA ', '')


def offered(itype: InstanceType, resource_type: str) -> bool:
    """EAS ``ml.*`` specs exist on the public resource group only; ECS types are offered to both."""
    return resource_type == 'Public' or itype.name.startswith('ecs.')


def describe_machine_spec(store: Store, req: Request) -> dict:
    query = req.query
    resource_type = query.get('ResourceType') or 'Public'
    if resource_type not in RESOURCE_TYPES:
        raise ApiError(400, 'InvalidParameter', f'ResourceType must be Public or Dedicated, got {resource_type!r}.')
    charge_type = query.get('ChargeType') or 'PostPaid'
    if charge_type not in CHARGE_TYPES:
        raise ApiError(400, 'InvalidParameter', f'ChargeType must be PostPaid or PrePaid, got {charge_type!r}.')
    wanted = [t for t in str(query.get('InstanceTypes') or '').split(',') if t]  # deprecated, 'simple' style list
    spot = resource_type == 'Public' and charge_type == 'PostPaid'
    metas = []
    for itype in INSTANCE_TYPES.values():
        if (wanted and itype.name not in wanted) or not offered(itype, resource_type):
            continue
        status, available = store.stock_of(itype.name)
        meta = {
            'CPU': itype.cpu,
            'GPUAmount': itype.gpu,
            'GPUMemory': float(itype.gpu_memory_gb),
            'InstanceType': itype.name,
            'IsAvailable': available,
            'Memory': float(itype.memory_gib),
            'StockStatus': status,
            'Vendor': 'ECS',
        }
        if itype.gpu:
            meta['GPU'] = gpu_model(itype)
        if spot:
            meta['SpotDiscount'] = 0.12
            meta['NonProtectSpotDiscount'] = 0.1
        metas.append(meta)
    types = [{'CPU': cpu, 'Memory': [cpu * 1000 * m for m in (1, 2, 4)]} for cpu in (1, 2, 4, 8, 16, 32)]
    return {'InstanceMetas': metas, 'Types': types}


# -- /_lab/stock -------------------------------------------------------------------------------------------------------


def _stock_view(store: Store) -> dict:
    with store.lock:
        return {'stock': {k: dict(v) for k, v in sorted(store.stock.items())}, 'stockout': store.stockouts}


def lab_get_stock(store: Store, _req: Request) -> Response:
    return Response.json(200, _stock_view(store))


def lab_set_stock(store: Store, req: Request) -> Response:
    """``{"instance_type": T, "stock_status": "NoStock", "available": false}``; WithStock + available restores T."""
    data = req.json_body(required=True)
    unknown = sorted(set(data) - {'instance_type', 'stock_status', 'available'})
    if unknown:
        raise ApiError(400, 'InvalidParameter', f'Unknown stock fields: {", ".join(unknown)}.')
    itype = lookup_instance_type(data.get('instance_type'), 'instance_type')
    status = data.get('stock_status', 'WithStock')
    if status not in STOCK_STATUSES:
        raise ApiError(400, 'InvalidParameter', f'stock_status must be one of {", ".join(STOCK_STATUSES)}.')
    available = as_bool(data.get('available'), default=True)
    with store.lock:
        if status == 'WithStock' and available:
            store.stock.pop(itype.name, None)
        else:
            store.stock[itype.name] = {'StockStatus': status, 'IsAvailable': available}
    return Response.json(200, _stock_view(store))


def lab_clear_stock(store: Store, _req: Request) -> Response:
    with store.lock:
        store.stock.clear()
    return Response.json(200, _stock_view(store))
