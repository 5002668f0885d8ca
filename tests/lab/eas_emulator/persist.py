# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""State that survives a restart: the Store as JSON in ``--state-file`` / ``EAS_EMULATOR_STATE_FILE``.

The emulator loads the file at start and writes it after every request that changed the state (compared as
serialised JSON, so lazy, time-based transitions are saved too), atomically: a temporary file in the same directory,
fsync, rename. Timestamps are wall-clock (``time.time()``), so lifecycles under way continue after a restart as if
the emulator had never stopped. Faults, outages, the request log and the settings are not part of the state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading

from .catalog import INSTANCE_TYPES, FitResult
from .state import Node, Replica, ResourceGroup, Service, Store

SCHEMA = 'eas-emulator-state/1'


class StateFileError(Exception):
    """The state file cannot be read, does not fit this emulator, or cannot be written."""


def _group_to_dict(group: ResourceGroup) -> dict:
    data = {f.name: getattr(group, f.name) for f in dataclasses.fields(group) if f.name != 'nodes'}
    nodes = []
    for node in group.nodes.values():
        item = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
        item['itype'] = node.itype.name
        nodes.append(item)
    data['nodes'] = nodes
    return data


def _group_from_dict(data: dict) -> ResourceGroup:
    data = dict(data)
    nodes = data.pop('nodes')
    group = ResourceGroup(**data)
    for item in nodes:
        item = dict(item)
        name = item['itype']
        if name not in INSTANCE_TYPES:
            raise StateFileError(f'node {item.get("instance_id")} has an instance type this emulator lacks: {name}')
        item['itype'] = INSTANCE_TYPES[name]
        group.nodes[item['instance_id']] = Node(**item)
    return group


def _service_from_dict(data: dict) -> Service:
    data = dict(data)
    data['replicas'] = [Replica(**r) for r in data.get('replicas') or []]
    data['failure'] = FitResult(**data['failure']) if data.get('failure') else None
    return Service(**data)


def snapshot(store: Store) -> dict:
    """The whole state as JSON-ready data (call with ``store.lock`` held)."""
    return {
        'schema': SCHEMA,
        'region': store.settings.region,
        'ip_counter': store._ip_counter,  # pylint: disable=protected-access
        'stockouts': store.stockouts,
        'stock': store.stock,
        'resources': [_group_to_dict(g) for g in store.resources.values()],
        'services': [dataclasses.asdict(s) for s in store.services.values()],
    }


def restore(store: Store, data: dict) -> None:
    if not isinstance(data, dict) or data.get('schema') != SCHEMA:
        raise StateFileError(f'not an emulator state ({SCHEMA})')
    if data.get('region') != store.settings.region:
        raise StateFileError(
            f'the state is of region {data.get("region")}, this emulator serves {store.settings.region}'
        )
    try:
        resources = [_group_from_dict(g) for g in data['resources']]
        services = [_service_from_dict(s) for s in data['services']]
    except (KeyError, TypeError) as exc:
        raise StateFileError(f'malformed state: {exc!r}') from exc
    with store.lock:
        store.reset()
        store._ip_counter = int(data.get('ip_counter') or 10)  # pylint: disable=protected-access
        store.stockouts = int(data.get('stockouts') or 0)
        store.stock.update(data.get('stock') or {})
        store.resources.update((g.resource_id, g) for g in resources)
        store.services.update((s.name, s) for s in services)


class StateFile:
    """Load the Store from ``path`` and save it there whenever it changed."""

    def __init__(self, path: str, store: Store):
        self.path = os.path.abspath(path)
        self.store = store
        self.lock = threading.Lock()
        self.saved: str | None = None

    def _serialise(self) -> str:
        with self.store.lock:
            return json.dumps(snapshot(self.store), sort_keys=True)

    def load(self) -> bool:
        """Load the file if it exists (True), then write it back: a state directory that is not writable fails now."""
        loaded = False
        if os.path.exists(self.path):
            try:
                with open(self.path, encoding='utf-8') as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as exc:
                raise StateFileError(f'cannot read {self.path}: {exc}') from exc
            restore(self.store, data)
            loaded = True
        self.save(force=True)
        return loaded

    def save(self, force: bool = False) -> bool:
        """Write the state if it differs from what was last written (True when written)."""
        with self.lock:
            text = self._serialise()
            if text == self.saved and not force:
                return False
            tmp = None
            try:
                fd, tmp = tempfile.mkstemp(prefix='.state-', suffix='.tmp', dir=os.path.dirname(self.path))
                with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
                tmp = None
            except OSError as exc:
                raise StateFileError(f'cannot write {self.path}: {exc}') from exc
            finally:
                if tmp is not None:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
            self.saved = text
            return True
