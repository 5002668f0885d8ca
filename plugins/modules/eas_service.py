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
    the wait at once; a timeout (an endless C(Waiting), for example) fails with the service's warning events,
    its diagnosis and its last log lines in the message.
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
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, the endpoint probe included.
    type: int
    default: 1200
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
actions:
  description: The API actions the task performed (or would perform, in check mode).
  returned: always
  type: list
  elements: str
  sample: [UpdateService]
"""

import copy
import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.compare import config_difference, deep_merge, project
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_service_config import (
    config_secret_values,
    endpoint_url,
    parse_service_config,
    scrub,
    service_endpoints_argument_spec,
    service_result,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_waiter import (
    SERVICE_FAILED,
    EASWaitError,
    probe_endpoint,
    service_version,
    wait_for_service,
    wait_until_visible,
)
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError

TRANSITIONAL = (
    'Creating',
    'Pending',
    'Waiting',
    'Starting',
    'Updating',
    'HotUpdate',
    'Scaling',
    'Stopping',
    'Cloning',
    'Committing',
)


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
        update_type=dict(type='str', default='merge', choices=['merge', 'replace']),
        auto_max_unavailable=dict(type='bool', default=True),
        workspace_id=dict(type='str'),
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='int', default=1200),
        probe_endpoint=dict(type='bool', default=True),
        return_access_token=dict(type='bool', default=True, no_log=False),
        **service_endpoints_argument_spec(),
    )

    def __init__(self, module):
        super().__init__(module)
        # dockerAuth and secret-looking env values of the config: masked in the invocation, the result and the diff.
        module.no_log_values.update(config_secret_values(module.params['config']))
        self.name = module.params['name']
        self.https = module.params['https_endpoints']
        self.initial_status = None
        self.started = time.monotonic()
        self.min_version = None
        self.restarted = False

    def remaining(self):
        return max(1, round(self.params['wait_timeout'] - (time.monotonic() - self.started)))

    def remember(self, service):
        """Keep the token of every service read: it is masked if the task fails."""
        if service and service.get('AccessToken'):
            self.secrets.add(service['AccessToken'])
        return service

    def describe(self):
        return self.remember(self.client.describe_service(self.name))

    def wait(self, target):
        # Right after acting on a Failed service, the first polls may still show the old failure.
        stale = 2 if self.actions and self.initial_status in SERVICE_FAILED else 0
        # After an update or a restart, Running must be the new state, not the old one (see eas_waiter).
        return self.remember(
            wait_for_service(
                self.client,
                self.name,
                target,
                self.remaining(),
                stale_failed_polls=stale,
                min_version=self.min_version,
                require_change=self.restarted,
            )
        )

    def update(self, service, body):
        """UpdateService; the waits after it require the version the update creates (LatestVersion before + 1)."""
        before = service_version(service)
        self.do(
            'UpdateService',
            self.client.update_service,
            self.name,
            body,
            self.params['update_type'] if self.params['update_type'] == 'replace' else None,
        )
        self.min_version = before + 1 if before is not None else None

    def restart(self):
        self.do('RestartService', self.client.restart_service, self.name)
        self.restarted = True

    def run(self):
        try:
            return self.converge()
        except EASWaitError as err:
            last = err.last if isinstance(err.last, dict) else None
            self.remember(last)
            err.extra['service'] = service_result(last, self.https) if last else {}
            raise

    def converge(self):
        params = self.params
        state = params['state']
        desired = build_desired(params)
        service = self.describe()
        current_config = parse_service_config(service)
        status = service.get('Status') if service else None
        self.initial_status = status
        before = dict(status=status or 'absent')
        after = dict(status=status or 'absent')
        if desired is not None:
            before['config'] = scrub(project(current_config, desired)) if service else {}

        if state == 'absent':
            if service:
                if status != 'Deleting':
                    self.do('DeleteService', self.client.delete_service, self.name)
                if params['wait'] and not self.check_mode:
                    self.wait('absent')
                service = None
            after = dict(status='absent')
            if desired is not None:
                after['config'] = {}
            return self.finish(service, before, after)

        created = updated = False
        if service is None:
            if state == 'stopped':
                raise ModuleError(
                    'service %s does not exist, so it cannot be stopped; create it with '
                    'state=present or state=running first' % self.name
                )
            if desired is None:
                raise ModuleError('service %s does not exist; config is required to create it' % self.name)
            body = copy.deepcopy(desired)
            body.setdefault('metadata', {}).setdefault('name', self.name)
            self.do('CreateService', self.client.create_service, body, params['workspace_id'])
            created = True
            after = dict(status='Running', config=scrub(desired))
        elif desired is not None:
            action, body = plan_update(desired, current_config, params['update_type'])
            after['config'] = scrub(
                deep_merge(project(current_config, desired), desired) if params['update_type'] == 'merge' else desired
            )
            if action:
                if status in TRANSITIONAL and params['wait'] and not self.check_mode:
                    # An update in the middle of a create/update/stop may be rejected: let it settle first.
                    service = self.wait('settled')
                    status = service.get('Status')
                if action == 'ScaleService':
                    self.do(action, self.client.scale_service, self.name, body)
                else:
                    self.update(service, body)
                updated = True

        # Run-state transitions, never a redundant start or stop.
        if not created:
            if state == 'running':
                if status in ('Stopped', 'Stopping'):
                    if status == 'Stopping' and not self.check_mode:
                        self.wait('Stopped')
                    self.do('StartService', self.client.start_service, self.name)
                after['status'] = 'Running'
            elif state == 'stopped':
                if status not in ('Stopped', 'Stopping'):
                    if updated and params['wait'] and not self.check_mode:
                        self.wait('settled')
                    self.do('StopService', self.client.stop_service, self.name)
                elif updated and params['wait'] and not self.check_mode:
                    # Some servers start a stopped service to apply an update; stop it again if so.
                    settled = self.wait('settled')
                    if settled and settled.get('Status') == 'Running':
                        self.do('StopService', self.client.stop_service, self.name)
                after['status'] = 'Stopped'
            elif state == 'restarted':
                if status in ('Stopped', 'Stopping'):
                    if status == 'Stopping' and not self.check_mode:
                        self.wait('Stopped')
                    self.do('StartService', self.client.start_service, self.name)
                else:
                    self.restart()
                after['status'] = 'Running'
        elif state == 'restarted':
            after['status'] = 'Running'

        if self.check_mode:
            return self.finish(service, before, after)

        if params['wait']:
            target = {'running': 'Running', 'restarted': 'Running', 'stopped': 'Stopped'}.get(state, 'settled')
            service = self.wait(target)
            if service and service.get('Status') == 'Running' and params['probe_endpoint']:
                endpoint = endpoint_url(service.get('InternetEndpoint') or service.get('IntranetEndpoint'), self.https)
                if not endpoint:
                    raise ModuleError(
                        'service %s is Running but has no endpoint to probe; set probe_endpoint=false' % self.name,
                        service=service_result(service, self.https),
                    )
                probe_endpoint(endpoint, service.get('AccessToken') or '', self.remaining())
        elif created:
            service = self.remember(wait_until_visible(self.client, self.name))
        elif self.actions:
            service = self.describe() or service
        return self.finish(service, before, after)

    def finish(self, service, before, after):
        result = service_result(service, self.https)
        if not self.params['return_access_token']:
            result.pop('access_token', None)
        self.diff(before, after)
        return dict(service=result)


def main():
    ServiceRunner.main()


if __name__ == '__main__':
    main()
