# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_service
short_description: Manage a PAI-EAS online service (create, update, scale, start, stop, restart, delete)
version_added: 1.0.0
description:
  - Creates, updates, scales, starts, stops, restarts or deletes an Alibaba Cloud PAI-EAS online service from its
    service config (the JSON of the EAS console's JSON view, as a dict).
  - Idempotent. The desired O(config) is compared as a B(subset) of the service's current config
    (C(ServiceConfig) of DescribeService), so keys the server adds do not count as a difference. Only the difference
    is sent (C(UpdateService) with C(UpdateType=merge)); a change of C(metadata.instance) alone is a C(ScaleService).
  - Waits until the service is C(Running) with all instances running B(and) its endpoint answers
    C(GET <endpoint>/v1/models) with the service token (O(probe_endpoint)). A service that becomes C(Failed) ends
    the wait at once, and so does one seen C(Stopped) several polls in a row while waiting for C(Running); a timeout
    (an endless C(Waiting), for example) fails with the service's warning events, its diagnosis and its last log lines
    in the message. While it waits, a line every 30 seconds shows the status, the latest warning event and the time.
  - A changed config is sent at once when the service is C(Waiting), C(Pending) or C(Failed) (states that do not end
    by themselves, so an update that fixes them must not wait for them); it waits first only for transitions that
    end by themselves (C(Creating), C(Updating), C(Starting), C(Stopping), C(Scaling), C(HotUpdate)). After a
    C(ScaleService) it waits until the requested number of instances runs.
  - The name and the config are checked before any call (what EAS would refuse, such as the name's characters, the types in
    C(metadata), C(containers) and C(storage), an OSS mount path with an endpoint inside its bucket name).
  - In check mode only C(DescribeService) is called; nothing is created, changed or waited for.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The service name (C(metadata.name)), unique per region.
    type: str
    required: true
  state:
    description:
      - V(present) creates the service if missing and brings its config up to date, without changing whether it
        runs. V(running) does the same and starts it when stopped. V(stopped) stops it (it must exist).
        V(restarted) restarts it (always reports a change). V(absent) deletes it.
      - No start or stop call is made for a service already in the requested state.
    type: str
    choices: [present, running, stopped, restarted, absent]
    default: present
  config:
    description:
      - The service config, for example C(metadata) (C(instance), C(resource), C(cpu), C(memory), C(gpu)),
        C(containers), C(storage).
      - Required to create the service. C(metadata.name) defaults to O(name) and must equal it when set.
      - Scalars are compared by meaning, so a server that echoes V(1) as V("1") or V(true) as V("true") does not
        cause an update on every run.
      - The values of C(dockerAuth) and of C(containers[].env) entries whose name contains C(pass), C(secret),
        C(token), C(key), C(auth) or C(credential) (any case) are treated as secrets and masked in the output
        (values shorter than 4 characters excepted).
    type: dict
  create_only_config:
    description:
      - Config merged into O(config) when the service is created (and when it moves to another resource group), but
        never compared afterwards. For values the server may change or the user may tune by hand without a rerun
        undoing it, such as C(metadata.cpu) and C(metadata.memory) sized from what the group could allocate at
        creation.
    type: dict
  labels:
    description:
      - Labels of a new service (C(CreateService) C(Labels)). The module adds C(managed-by=llmops.eas_stack), which
        the collection's pre-flight uses to tell its own services from others of the same name.
    type: dict
  update_type:
    description:
      - How a changed config is sent. V(merge) sends only the differing keys and lets the server deep-merge them;
        it cannot remove keys. V(replace) sends the whole O(config), which becomes the new config.
    type: str
    choices: [merge, replace]
    default: merge
  auto_max_unavailable:
    description:
      - The single-node rolling update trap. By default an update starts the new instance before stopping the
        old one (C(max_surge) at least 1). On a dedicated resource group whose node is full (one GPU, one
        instance) the new instance can never be scheduled and the update blocks for ever.
      - When V(true) and the service has C(metadata.resource) (dedicated group), C(metadata.instance) of 1 (or
        unset) and no C(metadata.rolling_strategy.max_unavailable) or C(max_surge) in O(config), the module adds
        C(metadata.rolling_strategy.max_unavailable=1) to the desired config, so an update stops the old
        instance first. The price is a short outage during updates, which a single-instance service has
        anyway. Set your own C(rolling_strategy), or V(false), to opt out.
    type: bool
    default: true
  workspace_id:
    description:
      - The PAI workspace id, used only when the service is created.
    type: str
  wait:
    description:
      - Wait until the service reaches the requested state (C(Running) and the endpoint answers, C(Stopped),
        or gone).
      - An API that does not answer (network, throttling, 5xx, an HTML error page) does not end the wait, from the
        first read of the service on; the wait goes on until I(wait_timeout) and says how long the API did not answer.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, the endpoint probe included.
    type: int
    default: 1200
  wait_window:
    description:
      - Seconds after which a wait returns RV(waiting=true), RV(progress) and RV(wait_state) instead of going on (0 =
        wait until O(wait_timeout)). The module's action plugin uses it to show progress every 30 seconds and then
        calls the module again with O(wait_state); there is no need to set it by hand.
    type: int
    default: 0
  wait_state:
    description:
      - What a later wait window needs (RV(wait_state) of the previous window). With it the module only waits; it
        does not act again. Set by the action plugin.
    type: dict
  probe_endpoint:
    description:
      - After C(Running), GET C(<endpoint>/v1/models) with the service token until it answers HTTP 200 (the EAS
        gateway lags behind C(Running)). The internet endpoint is used, or the intranet one when there is none,
        over HTTPS unless O(https_endpoints=false).
      - Set V(false) when the controller cannot reach the endpoint (for example the lab's whole-stack mode,
        where the endpoint is reachable only from containers).
    type: bool
    default: true
  return_access_token:
    description:
      - Return the service token as RV(service.access_token). Set V(false) to run the task without C(no_log)
        (so that failure messages stay visible) and read the token with M(llmops.eas_stack.eas_service_info) in a
        C(no_log) task instead.
    type: bool
    default: true
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.eas.service_endpoints
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
attributes:
  check_mode:
    support: full
    details:
      - Only DescribeService is called; no mutating request is sent and nothing is waited for.
  diff_mode:
    support: full
    details:
      - The diff shows the status and the compared part of the config before and after; never the token, C(dockerAuth)
        or the values of secret-looking C(containers[].env) names.
notes:
  - A service in a B(dedicated) resource group costs nothing by itself; the group's nodes are billed whether the
    service runs or not. Stopping the service does not stop billing; delete the group's nodes
    (M(llmops.eas_stack.eas_resource_group) with O(llmops.eas_stack.eas_resource_group#module:state=absent)).
  - The returned RV(service.access_token) is a secret. It is returned in clear so that later tasks can use it
    (Ansible would mask a no_log value in the result), so set C(no_log=true) on the task; on failure it is masked.
seealso:
  - module: llmops.eas_stack.eas_resource_group
  - module: llmops.eas_stack.eas_service_info
"""

EXAMPLES = r"""
- name: Deploy DeepSeek-R1-Distill-Qwen-1.5B on vLLM in a dedicated resource group
  llmops.eas_stack.eas_service:
    region: cn-hangzhou
    name: ds_r1_qwen_1_5b
    state: running
    config:
      metadata:
        instance: 1
        resource: eas-r-xxxxxxxx
        cpu: 7
        memory: 28000
        gpu: 1
      containers:
        - image: eas-registry-vpc.cn-hangzhou.cr.aliyuncs.com/pai-eas/vllm:0.14.0-gpu
          port: 8000
          script: >-
            vllm serve /model_dir --host 0.0.0.0 --port 8000 --served-model-name DeepSeek-R1-Distill-Qwen-1.5B
            --max-model-len 16384 --reasoning-parser deepseek_r1
      storage:
        - mount_path: /model_dir
          oss:
            path: oss://my-bucket/DeepSeek-R1-Distill-Qwen-1.5B/
            readOnly: true
  register: svc

- name: Scale to two instances (only metadata.instance changes, so this is a ScaleService)
  llmops.eas_stack.eas_service:
    name: ds_r1_qwen_1_5b
    config:
      metadata:
        instance: 2

- name: Stop the service (in a dedicated group this does NOT stop billing)
  llmops.eas_stack.eas_service:
    name: ds_r1_qwen_1_5b
    state: stopped

- name: Delete the service
  llmops.eas_stack.eas_service:
    name: ds_r1_qwen_1_5b
    state: absent
"""

RETURN = r"""
service:
  description: The service after the task (before it, in check mode). Empty when it is absent.
  returned: always
  type: dict
  contains:
    name:
      description: Service name.
      type: str
      sample: ds_r1_qwen_1_5b
    id:
      description: Service id (C(eas-m-...)).
      type: str
      sample: eas-m-abc123
    status:
      description: Service status, for example C(Running), C(Stopped), C(Waiting).
      type: str
      sample: Running
    reason:
      description: Status reason.
      type: str
    message:
      description: Status message.
      type: str
    internet_endpoint:
      description:
        - Public endpoint; the OpenAI-compatible API base is this plus C(/v1).
        - With V(https://) unless O(https_endpoints=false).
      type: str
      sample: https://123.cn-hangzhou.pai-eas.aliyuncs.com/api/predict/ds_r1_qwen_1_5b
    intranet_endpoint:
      description: VPC endpoint.
      type: str
    access_token:
      description:
        - The service token (send it as C(Authorization)). Secret; set C(no_log) on the task.
        - Omitted when O(return_access_token=false).
      type: str
    config:
      description: The service's current config (parsed C(ServiceConfig)).
      type: dict
    resource:
      description: The resource group id the service runs in.
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
    labels:
      description: The service's labels.
      type: dict
actions:
  description: The API actions the task performed (or would perform, in check mode).
  returned: always
  type: list
  elements: str
  sample: [UpdateService]
waiting:
  description: True when a O(wait_window) ended before the wait did (RV(progress) and RV(wait_state) tell where it is).
  returned: with O(wait_window)
  type: bool
progress:
  description: One line on what the wait is at (status, instances, the latest warning event).
  returned: when RV(waiting) is true
  type: str
wait_state:
  description: What the next window needs (O(wait_state)).
  returned: when RV(waiting) is true
  type: dict
"""

import copy
import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import config_difference, deep_merge, project
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASError, EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import (
    MANAGED_LABELS,
    SERVICE_NAME_RE,
    config_secret_values,
    parse_service_config,
    scrub,
    service_config_errors,
    service_endpoints_argument_spec,
    service_result,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    SERVICE_FAILED,
    SERVICE_TRANSITIONS,
    EASWaitError,
    WaitWindowElapsed,
    probe_endpoint,
    read_service_through_outage,
    service_version,
    wait_for_service,
    wait_until_visible,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError


def build_desired(params):
    """The config to compare and send: the user's config, plus the single-instance rolling-update fix."""
    config = params['config']
    if config is None:
        return None
    desired = copy.deepcopy(config)
    name = params['name']
    meta = desired.get('metadata')
    if meta is not None and not isinstance(meta, dict):
        raise ModuleError('config.metadata must be a dict')
    if meta and meta.get('name') not in (None, name):
        raise ModuleError(
            'config.metadata.name (%s) differs from name (%s); drop it or make them equal' % (meta.get('name'), name)
        )
    if params['auto_max_unavailable'] and meta and meta.get('resource'):
        try:
            instances = int(meta.get('instance', 1))
        except (TypeError, ValueError):
            instances = 1
        strategy = meta.get('rolling_strategy') or {}
        if instances == 1 and 'max_unavailable' not in strategy and 'max_surge' not in strategy:
            meta['rolling_strategy'] = dict(strategy, max_unavailable=1)
    return desired


def plan_update(desired, current, update_type):
    """Return (action, body) for a config change, or (None, None) when the desired config is already there."""
    diff = config_difference(desired, current)
    if diff is None:
        return None, None
    if update_type == 'replace':
        return 'UpdateService', desired
    if set(diff) == {'metadata'} and set(diff['metadata']) == {'instance'}:
        return 'ScaleService', diff['metadata']['instance']
    return 'UpdateService', diff


class ServiceRunner(EASRunner):
    options = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'running', 'stopped', 'restarted', 'absent']),
        config=dict(type='dict'),
        create_only_config=dict(type='dict'),
        update_type=dict(type='str', default='merge', choices=['merge', 'replace']),
        auto_max_unavailable=dict(type='bool', default=True),
        workspace_id=dict(type='str'),
        labels=dict(type='dict'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=1200),
        wait_window=dict(type='int', default=0),
        wait_state=dict(type='dict'),
        probe_endpoint=dict(type='bool', default=True),
        return_access_token=dict(type='bool', default=True, no_log=False),
        **service_endpoints_argument_spec(),
    )

    def __init__(self, module):
        super().__init__(module)
        # dockerAuth and secret-looking env values of the config: masked in the invocation, the result and the diff.
        for key in ('config', 'create_only_config'):
            module.no_log_values.update(config_secret_values(module.params[key]))
        self.name = module.params['name']
        self.started = time.monotonic()
        self.spec = {}

    def remaining(self):
        return max(1, round(self.params['wait_timeout'] - (time.monotonic() - self.started)))

    def remember(self, service):
        """Keep the token of every service read: it is masked if the task fails."""
        if service and service.get('AccessToken'):
            self.secrets.add(service['AccessToken'])
        return service

    def describe(self):
        return self.remember(self.client.describe_service(self.name))

    def first_read(self):
        """The service before any action. With a wait (not in check mode), an API that does not answer is waited out
        within wait_timeout, as during the wait itself (a wait that starts during an outage goes on once it ends)."""
        if not self.params['wait'] or self.check_mode:
            return self.describe()
        window = self.params['wait_window'] > 0
        timeout = min(self.params['wait_window'], self.remaining()) if window else self.remaining()
        service, unreachable = read_service_through_outage(
            self.client, self.name, timeout, window=window, unreachable=self.spec.get('unreachable', 0.0)
        )
        if unreachable:
            # The wait's progress and its final message count this outage too.
            self.spec['unreachable'] = unreachable
        return self.remember(service)

    def wait(self, target, window=False):
        """Wait for ``target`` with what the actions so far require (see eas_waiter: versions, restarts, scaling)."""
        timeout = min(self.params['wait_window'], self.remaining()) if window else self.remaining()
        return self.remember(wait_for_service(self.client, self.name, target, timeout, spec=self.spec, window=window))

    def validate(self, desired):
        if not SERVICE_NAME_RE.match(self.name):
            raise ModuleError(
                'name %r is not a valid EAS service name: use 3-63 lowercase letters, digits and '
                'underscores, starting with a letter' % self.name
            )
        if desired is not None:
            errors = service_config_errors(deep_merge(self.params['create_only_config'] or {}, desired), self.name)
            if errors:
                raise ModuleError('config is not a valid EAS service config: %s' % '; '.join(errors))

    def run(self):
        desired = build_desired(self.params)
        self.validate(desired)
        try:
            wait_state = self.params['wait_state']
            if wait_state is not None and not wait_state.get('first_read'):
                return self.keep_waiting()
            if wait_state:
                # An earlier window could not read the service (the API did not answer): nothing was done yet.
                self.spec['unreachable'] = float(wait_state.get('unreachable') or 0.0)
            return self.converge(desired)
        except WaitWindowElapsed as window:
            self.remember(window.last)
            return dict(
                waiting=True,
                progress=window.progress,
                wait_state=dict(window.state, target=self.target()),
                service=service_result(window.last, **self.endpoint_options()),
            )
        except EASWaitError as err:
            last = err.last if isinstance(err.last, dict) else None
            self.remember(last)
            err.extra['service'] = service_result(last, **self.endpoint_options()) if last else {}
            raise

    def endpoint_options(self):
        return dict(https=self.params['https_endpoints'], https_intranet=self.params['https_intranet_endpoint'])

    def target(self):
        return {'running': 'Running', 'restarted': 'Running', 'stopped': 'Stopped', 'absent': 'absent'}.get(
            self.params['state'], 'settled'
        )

    def keep_waiting(self):
        """A later window of the same task: the actions are done, only the wait goes on."""
        self.spec = dict(self.params['wait_state'])
        target = self.spec.pop('target', self.target())
        service = self.wait(target, window=self.params['wait_window'] > 0)
        return self.finish(self.probe(service), None, None)

    def create(self, desired):
        params = self.params
        if params['state'] == 'stopped':
            raise ModuleError(
                'service %s does not exist, so it cannot be stopped; create it with '
                'state=present or state=running first' % self.name
            )
        if desired is None:
            raise ModuleError('service %s does not exist; config is required to create it' % self.name)
        body = deep_merge(params['create_only_config'] or {}, desired)
        body.setdefault('metadata', {}).setdefault('name', self.name)
        labels = dict(MANAGED_LABELS, **(params['labels'] or {}))
        try:
            self.do('CreateService', self.client.create_service, body, params['workspace_id'], labels)
        except EASError as err:
            # A 5xx or a network error may hide a create that happened: look before failing (never create twice).
            if not err.retryable or wait_until_visible(self.client, self.name) is None:
                raise
            self.warn('CreateService of %s answered %s, but the service exists: continuing' % (self.name, err))

    def converge(self, desired):
        params = self.params
        state = params['state']
        service = self.first_read()
        current_config = parse_service_config(service)
        status = service.get('Status') if service else None
        # Right after acting on a Failed service, the first polls may still show the old failure.
        self.spec['stale_failed_polls'] = 2 if status in SERVICE_FAILED else 0
        before = dict(status=status or 'absent')
        after = dict(status=status or 'absent')
        if desired is not None:
            before['config'] = scrub(project(current_config, desired)) if service else {}

        if state == 'absent':
            if service and status != 'Deleting':
                self.do('DeleteService', self.client.delete_service, self.name)
            if service and params['wait'] and not self.check_mode:
                self.wait('absent', window=params['wait_window'] > 0)
            after = dict(status='absent', config={}) if desired is not None else dict(status='absent')
            return self.finish(None, before, after)

        created = updated = False
        if service is None:
            self.create(desired)
            created = True
            after = dict(status='Running', config=scrub(desired))
        elif desired is not None:
            if (
                params['create_only_config']
                and (desired.get('metadata') or {}).get('resource')
                and (desired.get('metadata') or {}).get('resource') != service.get('Resource')
            ):
                # Moving to another resource group: the create-only part (its sizing) applies again.
                desired = deep_merge(params['create_only_config'], desired)
            action, body = plan_update(desired, current_config, params['update_type'])
            after['config'] = scrub(
                deep_merge(project(current_config, desired), desired) if params['update_type'] == 'merge' else desired
            )
            if action:
                if status in SERVICE_TRANSITIONS and params['wait'] and not self.check_mode:
                    # A change in the middle of a create/update/stop may be rejected: let it settle first.
                    service = self.wait('settled')
                    status = service.get('Status')
                if action == 'ScaleService':
                    self.do(action, self.client.scale_service, self.name, body)
                    self.spec['instances'] = int(body)
                else:
                    latest = service_version(service)
                    update_type = 'replace' if params['update_type'] == 'replace' else None
                    self.do('UpdateService', self.client.update_service, self.name, body, update_type)
                    self.spec['min_version'] = latest + 1 if latest is not None else None
                updated = True

        if not created:
            after['status'] = self.run_state(state, status, updated) or after['status']
        elif state == 'restarted':
            after['status'] = 'Running'

        if self.check_mode:
            return self.finish(service, before, after)
        if params['wait']:
            service = self.probe(self.wait(self.target(), window=params['wait_window'] > 0))
        elif created:
            service = self.remember(wait_until_visible(self.client, self.name))
        elif self.actions:
            service = self.describe() or service
        return self.finish(service, before, after)

    def run_state(self, state, status, updated):
        """Start, stop or restart as ``state`` asks, never a redundant start or stop. Returns the status to expect."""
        waiting = self.params['wait'] and not self.check_mode
        if state == 'running':
            if status in ('Stopped', 'Stopping'):
                if status == 'Stopping' and waiting:
                    self.wait('Stopped')
                self.do('StartService', self.client.start_service, self.name)
            return 'Running'
        if state == 'stopped':
            if status not in ('Stopped', 'Stopping'):
                if updated and waiting:
                    self.wait('settled')
                self.do('StopService', self.client.stop_service, self.name)
            elif updated and waiting:
                # Some servers start a stopped service to apply an update; stop it again if so.
                settled = self.wait('settled')
                if settled and settled.get('Status') == 'Running':
                    self.do('StopService', self.client.stop_service, self.name)
            return 'Stopped'
        if state == 'restarted':
            if status in ('Stopped', 'Stopping'):
                if status == 'Stopping' and waiting:
                    self.wait('Stopped')
                self.do('StartService', self.client.start_service, self.name)
            else:
                self.do('RestartService', self.client.restart_service, self.name)
                self.spec['require_change'] = True
            return 'Running'
        return None

    def probe(self, service):
        """After Running, GET <endpoint>/v1/models until the gateway answers (it lags behind Running)."""
        if not (service and service.get('Status') == 'Running' and self.params['probe_endpoint']):
            return service
        result = service_result(service, **self.endpoint_options())
        endpoint = result.get('internet_endpoint') or result.get('intranet_endpoint')
        if not endpoint:
            raise ModuleError(
                'service %s is Running but has no endpoint to probe; set probe_endpoint=false' % self.name,
                service=result,
            )
        probe_endpoint(endpoint, service.get('AccessToken') or '', self.remaining())
        return service

    def finish(self, service, before, after):
        result = service_result(service, **self.endpoint_options())
        if not self.params['return_access_token']:
            result.pop('access_token', None)
        if before is not None:
            self.diff(before, after)
        return dict(service=result)


def main():
    ServiceRunner.main()


if __name__ == '__main__':
    main()
