# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node time billed so far: ``GET /_lab/billing/usage[?since=UNIX_TIME]``.

A dedicated node bills from its creation until it is gone (a node in ``Deleting`` still bills; ``CreateFailed`` nodes
never do). ``/_lab/billing`` says what bills now; this says for how long each node billed, so that a benchmark can
price, say, the overlap of two service generations. With ``since``, the intervals are clipped to ``[since, now]``.
"""

from __future__ import annotations

import time

from .common import ApiError, Request, Response, iso_time


def _interval(node, end, since):
    start = max(node.created, since)
    return start, max(start, end)


def node_usage(store, req: Request) -> Response:
    try:
        since = float(req.query.get('since') or 0)
    except ValueError as exc:
        raise ApiError(400, 'InvalidParameter', 'since must be a Unix time in seconds.') from exc
    now = time.time()
    with store.lock:
        store.advance(now)
        nodes = [(group, node, node.delete_at) for group, node in store.retired_nodes]
        nodes += [(group, node, None) for group in store.resources.values() for node in group.nodes.values()]
        rows = []
        for group, node, removed in nodes:
            if not node.billed() or (removed is not None and removed <= since):
                continue
            start, end = _interval(node, removed if removed is not None else now, since)
            rows.append(
                {
                    'InstanceId': node.instance_id,
                    'ResourceId': group.resource_id,
                    'ResourceName': group.name,
                    'InstanceType': node.itype.name,
                    'start': start,
                    'end': removed,
                    'start_time': iso_time(start),
                    'end_time': iso_time(removed) if removed is not None else None,
                    'billed_seconds': round(end - start, 3),
                }
            )
    by_type: dict = {}
    by_group: dict = {}
    for row in rows:
        by_type[row['InstanceType']] = round(by_type.get(row['InstanceType'], 0.0) + row['billed_seconds'], 3)
        by_group[row['ResourceName']] = round(by_group.get(row['ResourceName'], 0.0) + row['billed_seconds'], 3)
    return Response.json(
        200,
        {
            'since': since,
            'now': now,
            'nodes': sorted(rows, key=lambda r: (r['start'], r['InstanceId'])),
            'billed_seconds_by_instance_type': by_type,
            'billed_seconds_by_group': by_group,
            'total_billed_node_seconds': round(sum(r['billed_seconds'] for r in rows), 3),
        },
    )
