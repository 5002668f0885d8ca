# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab control (faults, request log, billing, reset, config) and the dispatcher tying all planes together."""

from __future__ import annotations

import functools
import json
import random
import sys
import threading
import time

from .common import API_VERSION, ApiError, Request, Response, as_int, error_response, iso_time, request_id
from .control import ControlPlane
from .dataplane import DataPlane
from .machine_spec import lab_clear_stock, lab_get_stock, lab_set_stock
from .outage import Outage, lab_clear_outage, lab_get_outage, lab_set_outage, outage_response
from .persist import StateFile, StateFileError
from .state import Settings, Store, public_type_of
from .usage import node_usage

MUTATING_METHODS = ('POST', 'PUT', 'DELETE', 'PATCH')


class Faults:
    """Injected faults for control-plane requests (and the data plane when ``data_plane`` is true)."""

    FIELDS = (
        'throttle_ratio',
        'error_ratio',
        'error_status',
        'latency_ms',
        'count',
        'actions',
        'retry_after_ms',
        'data_plane',
    )

    def __init__(self, seed: int):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.config: dict = {}

    def set(self, config: dict) -> dict:
        unknown = sorted(set(config) - set(self.FIELDS) - {'stockout'})
        if unknown:
            raise ApiError(
                400,
                'InvalidParameter',
                f'Unknown fault fields: {", ".join(unknown)}. Known: {", ".join(self.FIELDS)}, stockout.',
            )
        for key in ('throttle_ratio', 'error_ratio'):
            value = config.get(key, 0)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ApiError(400, 'InvalidParameter', f'{key} must be a number between 0 and 1.')
        status = config.get('error_status', 503)
        if not isinstance(status, int) or not 500 <= status <= 599:
            raise ApiError(400, 'InvalidParameter', 'error_status must be a 5xx status.')
        with self.lock:
            self.config = {k: v for k, v in config.items() if k in self.FIELDS and v is not None}
            return dict(self.config)

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.config)

    def clear(self) -> None:
        with self.lock:
            self.config = {}

    def decide(self, action: str, data_plane: bool):
        """Return (latency seconds, ApiError or None) for the next request, consuming ``count``."""
        with self.lock:
            cfg = self.config
            if not cfg or (data_plane and not cfg.get('data_plane')):
                return 0.0, None
            if cfg.get('actions') and action not in cfg['actions']:
                return 0.0, None
            if cfg.get('count') is not None:
                cfg['count'] -= 1
                if cfg['count'] <= 0:
                    self.config = {}
            latency = float(cfg.get('latency_ms') or 0) / 1000.0
            if self._roll(cfg.get('throttle_ratio', 0)):
                retry = str(int(cfg.get('retry_after_ms', 200)))
                return latency, ApiError(
                    400, 'Throttling.User', 'Request was denied due to user flow control.', {'x-acs-retry-after': retry}
                )
            if self._roll(cfg.get('error_ratio', 0)):
                status = int(cfg.get('error_status', 503))
                if status == 503:
                    return latency, ApiError(
                        503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'
                    )
                return latency, ApiError(
                    status, 'InternalError', 'The request processing has failed due to some unknown error.'
                )
            return latency, None

    def _roll(self, ratio) -> bool:
        if not ratio:
            return False
        return ratio >= 1 or self.rng.random() < ratio


class RequestLog:
    """Every control- and data-plane request (never headers or tokens); ``/_lab/*`` calls are not logged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: list = []

    def add(self, entry: dict) -> None:
        with self.lock:
            entry['seq'] = len(self.entries) + 1
            self.entries.append(entry)

    def since(self, seq: int) -> list:
        with self.lock:
            return [dict(e) for e in self.entries[seq:]]

    def clear(self) -> None:
        with self.lock:
            self.entries = []

    def summary(self, seq: int) -> dict:
        """Control-plane request counts since ``seq``: per action, writes (POST/PUT/DELETE: every Create*, Update*,
        Delete*, Scale*, Start*, Stop*, Restart* action) and reads (GET), whatever their answer."""
        entries = self.since(seq)
        by_action: dict = {}
        writes = reads = errors = data_plane = 0
        for entry in entries:
            if entry['plane'] != 'control':
                data_plane += entry['plane'] == 'data'
                continue
            action = entry['action'] or 'Unknown'
            by_action[action] = by_action.get(action, 0) + 1
            if entry['method'] in MUTATING_METHODS:
                writes += 1
            else:
                reads += 1
            errors += entry['status'] != 200
        return {
            'by_action': dict(sorted(by_action.items())),
            'writes': writes,
            'reads': reads,
            'errors': errors,
            'data_plane': data_plane,
            'next': seq + len(entries),
        }


class Emulator:
    """Ties the pieces together: dispatches a Request to the lab, data or control plane and logs it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings)
        self.control = ControlPlane(self.store)
        self.data = DataPlane(self.store)
        self.faults = Faults(settings.seed)
        self.outage = Outage()
        self.log = RequestLog()
        self.state_file = StateFile(settings.state_file, self.store) if settings.state_file else None
        self.restored = self.state_file.load() if self.state_file else False
        self.lab_routes = {
            ('GET', '/_lab/health'): self.lab_health,
            ('GET', '/_lab/requests'): self.lab_requests,
            ('GET', '/_lab/requests/summary'): self.lab_requests_summary,
            ('GET', '/_lab/faults'): self.lab_get_faults,
            ('POST', '/_lab/faults'): self.lab_set_faults,
            ('DELETE', '/_lab/faults'): self.lab_clear_faults,
            ('POST', '/_lab/reset'): self.lab_reset,
            ('GET', '/_lab/billing'): self.lab_billing,
            ('GET', '/_lab/billing/usage'): lambda req: node_usage(self.store, req),
            ('GET', '/_lab/config'): self.lab_get_config,
            ('POST', '/_lab/config'): self.lab_set_config,
            ('GET', '/_lab/outage'): functools.partial(lab_get_outage, self.outage),
            ('POST', '/_lab/outage'): functools.partial(lab_set_outage, self.outage),
            ('DELETE', '/_lab/outage'): functools.partial(lab_clear_outage, self.outage),
            ('GET', '/_lab/stock'): functools.partial(lab_get_stock, self.store),
            ('POST', '/_lab/stock'): functools.partial(lab_set_stock, self.store),
            ('DELETE', '/_lab/stock'): functools.partial(lab_clear_stock, self.store),
            # The autoscaler's load and the cron scaler's jobs (scalers.py).
            ('GET', '/_lab/load'): self.lab_get_load,
            ('POST', '/_lab/load'): self.lab_set_load,
            ('POST', '/_lab/cron/run'): self.lab_run_cron_job,
        }

    def dispatch(self, req: Request) -> Response:
        try:
            return self._dispatch(req)
        finally:
            self.save_state()

    def save_state(self) -> None:
        """Write the state file when the request changed the state (a failed write is reported, not fatal)."""
        if self.state_file is None:
            return
        try:
            self.state_file.save()
        except StateFileError as exc:
            sys.stderr.write(f'eas-emulator: {exc}\n')

    def _dispatch(self, req: Request) -> Response:
        if req.path == '/_lab' or req.path.startswith('/_lab/'):
            handler = self.lab_routes.get((req.method, req.path.rstrip('/')))
            if handler is None:
                return Response.json(
                    404,
                    {
                        'Code': 'NotFound',
                        'Message': f'No lab endpoint {req.method} {req.path}',
                        'RequestId': request_id(),
                    },
                )
            try:
                return handler(req)
            except ApiError as exc:
                return error_response(exc)
        started = time.time()
        outage = ''
        if req.path.startswith(DataPlane.PREFIX):
            plane, action = 'data', 'Predict'
            outage = self.outage.applies(started, data_plane=True)
            response = (
                outage_response(outage) if outage else self._faulted(action, True) or self.data.handle(req, time.time())
            )
        elif req.path.startswith('/api/v2/'):
            plane = 'control'
            action = req.headers.get('x-acs-action', '')
            outage = self.outage.applies(started, data_plane=False)
            try:
                matched, params = self.control.match(req)
                action = matched.action
                if outage:
                    response = outage_response(outage)
                else:
                    response = self._faulted(action, False) or self.control.handle(req, matched, params, time.time())
            except ApiError as exc:
                response = outage_response(outage) if outage else error_response(exc)
        else:
            plane, action = 'other', ''
            response = Response.json(
                404, {'Code': 'NotFound', 'Message': f'{req.path} is not an EAS API path.', 'RequestId': request_id()}
            )
        body = None
        if plane == 'control' and req.body:
            try:
                body = json.loads(req.body)
            except ValueError:
                body = req.body.decode('utf-8', 'replace')
        self.log.add(
            {
                'time': iso_time(started),
                'ts': started,
                'plane': plane,
                'method': req.method,
                'path': req.path,
                'query': dict(req.query),
                'action': action,
                'status': response.status,
                'code': response.code,
                'duration_ms': int((time.time() - started) * 1000),
                'body': body,
                **({'outage': outage} if outage else {}),
            }
        )
        return response

    def _faulted(self, action: str, data_plane: bool) -> Response | None:
        latency, error = self.faults.decide(action, data_plane)
        if latency:
            time.sleep(latency)
        if error is None:
            return None
        if data_plane:
            return Response.text(error.status, error.message)
        return error_response(error)

    # -- /_lab endpoints ---------------------------------------------------------------------------------------------

    def lab_health(self, _req: Request) -> Response:
        with self.store.lock:
            counts = {'services': len(self.store.services), 'resources': len(self.store.resources)}
        state = {'state_file': self.state_file.path if self.state_file else None, 'restored': self.restored}
        return Response.json(
            200, {'status': 'ok', 'region': self.settings.region, 'api_version': API_VERSION, **counts, **state}
        )

    def lab_requests(self, req: Request) -> Response:
        since = as_int(req.query.get('since'), 'since', 0, minimum=0)
        entries = self.log.since(since)
        return Response.json(200, {'requests': entries, 'next': since + len(entries)})

    def lab_requests_summary(self, req: Request) -> Response:
        return Response.json(200, self.log.summary(as_int(req.query.get('since'), 'since', 0, minimum=0)))

    def lab_get_faults(self, _req: Request) -> Response:
        return Response.json(200, {'faults': self.faults.snapshot(), 'stockout': self.store.stockouts})

    def lab_set_faults(self, req: Request) -> Response:
        config = req.json_body()
        stockout = config.pop('stockout', None)
        faults = self.faults.set(config)
        if stockout is not None:
            with self.store.lock:
                self.store.stockouts = int(stockout) if not isinstance(stockout, bool) else int(stockout)
        return Response.json(200, {'faults': faults, 'stockout': self.store.stockouts})

    def lab_clear_faults(self, _req: Request) -> Response:
        self.faults.clear()
        with self.store.lock:
            self.store.stockouts = 0
        return Response.json(200, {'faults': {}, 'stockout': 0})

    def lab_get_load(self, req: Request) -> Response:
        with self.store.lock:
            return Response.json(200, self.control.scalers.view(req.query.get('service') or None, time.time()))

    def lab_set_load(self, req: Request) -> Response:
        with self.store.lock:
            return Response.json(200, self.control.scalers.set_load(req.json_body(required=True), time.time()))

    def lab_run_cron_job(self, req: Request) -> Response:
        with self.store.lock:
            return Response.json(200, self.control.scalers.run_job(req.json_body(required=True), time.time()))

    def lab_reset(self, _req: Request) -> Response:
        self.store.reset()
        self.control.scalers.__init__(self.store)
        self.faults.clear()
        self.outage.clear()
        self.log.clear()
        return Response.json(200, {'status': 'reset'})

    def lab_billing(self, _req: Request) -> Response:
        now = time.time()
        with self.store.lock:
            self.store.advance(now)
            groups = []
            for group in self.store.resources.values():
                billed = [n for n in group.nodes.values() if n.billed()]
                groups.append(
                    {
                        'ResourceId': group.resource_id,
                        'ResourceName': group.name,
                        'InstanceType': group.instance_type,
                        'billed_nodes': len(billed),
                        'billed_instance_ids': sorted(n.instance_id for n in billed),
                        'services': sorted(
                            s.name for s in self.store.services.values() if s.resource_id == group.resource_id
                        ),
                    }
                )
            public = []
            for svc in self.store.services.values():
                if svc.resource_id is None:
                    running = sum(1 for r in svc.replicas if r.placed)
                    public.append(
                        {
                            'ServiceName': svc.name,
                            'InstanceType': public_type_of(svc.config) or '',
                            'billed_instances': running,
                        }
                    )
        return Response.json(
            200,
            {
                'region': self.settings.region,
                'groups': groups,
                'total_billed_nodes': sum(g['billed_nodes'] for g in groups),
                'public_services': public,
                'total_public_instances': sum(p['billed_instances'] for p in public),
            },
        )

    def lab_get_config(self, _req: Request) -> Response:
        return Response.json(200, self._config_view())

    def lab_set_config(self, req: Request) -> Response:
        data = req.json_body(required=True)
        for key in ('service_ready_seconds', 'resource_ready_seconds', 'gateway_warmup_seconds'):
            if key in data:
                value = data[key]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ApiError(400, 'InvalidParameter', f'{key} must be a number >= 0.')
                setattr(self.settings, key, float(value))
        if 'public_url' in data:
            self.settings.public_url = str(data['public_url']).rstrip('/')
        return Response.json(200, self._config_view())

    def _config_view(self) -> dict:
        keys = ('region', 'public_url', 'service_ready_seconds', 'resource_ready_seconds', 'gateway_warmup_seconds')
        return {k: getattr(self.settings, k) for k in keys}
