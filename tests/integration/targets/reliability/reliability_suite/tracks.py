# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The suite's three tracks. Each has its own EAS emulator, a copy of the lab inventory (the run lock is per
inventory), names starting with it-rel-<track> and host ports of its own in 19000-19099.

A  one stack, cold from nothing with 30 % throttling/5xx on the EAS API, every run at -vvv: converge, rerun
   changed=0, no duplicates, billing; published ports and secret files; one-api's root/123456 tried on its port
   throughout; a 2 x 60 s API outage (html503, then refuse) while a run waits for the model service, with a teardown
   started meanwhile; the teardown; every log scanned for every secret.
K  kills of cold runs at the group create (the create in flight), one-api's bootstrap and the model service wait,
   with SIGINT and SIGKILL; the rerun at once converges and the next one changes nothing.
I  wrong inputs refused by site.yml's pre-flight before any write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
import secrets as random_secrets

from .inputs import CASES
from .lab import (
    LOOPBACK,
    Emulator,
    InitialPasswordProbe,
    OneApi,
    container_states,
    containers,
    docker,
    files_with_secrets,
    listeners,
    published_bindings,
    secrets_in,
)
from .runs import Run, SuiteError, log

FAULTS = dict(throttle_ratio=0.15, error_ratio=0.1765, retry_after_ms=200)  # 1 - 0.85 * 0.8235 = 30 %
# The emulator's seed for track A: its draws fault 27-33 % of every first 12 to 300 calls (runs of 2 faults in a row
# included), so a run's few dozen calls get the configured 30 % whatever their number. The default seed 0 faults 3 of
# the first 24 (12 %), 6 of the first 40: a cold run and its rerun, 24 calls, would not be the test they claim to be.
FAULT_SEED = 8633
CONVERGE_RUNS = 4
OUTAGE_PHASES = (('html503', 60), ('refuse', 60))
# The wait for the model services (the catalog's, or the single model's), whatever the number of services.
WAIT_TASK = r'TASK \[llmops\.eas_stack\.eas_model : Wait until the services? (?:is|are) Running'
KILL_POINTS = dict(
    group=r'TASK \[llmops\.eas_stack\.eas_model : Create or scale the dedicated resource group',
    oneapi=r'TASK \[llmops\.eas_stack\.oneapi : Wait for one-api to answer /api/status at http://',
    wait=WAIT_TASK,
)
# A create held this long by the emulator's latency fault is still in flight when the rerun looks for the group.
CREATE_LATENCY_MS = 20000
KILL_AFTER_CREATE_SENT = 3.5
KILL_CASES = [
    dict(id='k1', point='group', signal='KILL', what='kill -9 with CreateResource in flight (the race), rerun at once'),
    dict(id='k2', point='group', signal='INT', what='Ctrl-C with CreateResource in flight, rerun at once'),
    dict(id='k3', point='oneapi', signal='KILL', what="kill -9 in one-api's bootstrap (Wait for one-api)"),
    dict(id='k4', point='wait', signal='INT', what='Ctrl-C in the model service wait'),
    dict(id='k5', point='oneapi', signal='INT', what="Ctrl-C in one-api's bootstrap (Wait for one-api)"),
    dict(id='k6', point='wait', signal='KILL', what='kill -9 in the model service wait'),
]
SIGNALS = dict(INT=signal.SIGINT, KILL=signal.SIGKILL)


class Suite:
    """What the tracks share: paths, the failures and the figures."""

    def __init__(self, coll, work, mark):
        self.coll = coll
        self.work = work
        self.mark = mark
        self.lock = threading.Lock()
        self.failures = []
        self.figures = {}
        os.makedirs(os.path.join(work, 'logs'), exist_ok=True)

    def check(self, category, ok, message):
        with self.lock:
            if not ok:
                self.failures.append('%s: %s' % (category, message))
        log('%s [%s] %s' % ('ok  ' if ok else 'FAIL', category, message))
        return ok

    def figure(self, key, value):
        with self.lock:
            self.figures[key] = value

    def logs(self, prefix):
        folder = os.path.join(self.work, 'logs')
        return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.startswith(prefix)]


class Track:
    def __init__(self, suite, key, emulator_port):
        self.suite = suite
        self.key = key
        self.dir = os.path.join(suite.work, key)
        self.inventory = os.path.join(self.dir, 'inventory')
        shutil.copytree(os.path.join(suite.coll, 'inventories', 'lab'), self.inventory)
        self.emulator = Emulator(emulator_port)
        self.lab_vars = dict(
            lab_docker_network='it-rel-%s-net' % key,
            lab_eas_emulator_name='it-rel-%s-eas' % key,
            lab_eas_emulator_port=emulator_port,
            lab_eas_emulator_state_dir=os.path.join(self.dir, 'eas-emulator'),
            lab_eas_service_ready_seconds=3,
            lab_eas_resource_ready_seconds=2,
        )


class Stack:
    """One deployment of the whole stack: its names, ports, lab directory and variables."""

    PLAYBOOKS = dict(
        site='site.yml',
        product='playbooks/site.yml',
        teardown='teardown.yml',
        lab_up='tests/lab/playbooks/lab_up.yml',
    )

    def __init__(self, track, key, oneapi_port, chatgpt_web_port, front_door_ports):
        self.track = track
        self.suite = track.suite
        self.key = key
        self.dir = os.path.join(track.dir, key)
        self.lab_dir = os.path.join(self.dir, 'lab')
        os.makedirs(self.dir, exist_ok=True)
        self.group = 'it-rel-%s-group' % key
        self.service = 'it_rel_%s_deepseek' % key
        self.oneapi_port = oneapi_port
        self.chatgpt_web_port = chatgpt_web_port
        self.front_door_https_port, self.front_door_http_port = front_door_ports
        self.prefix = 'it-rel-%s-' % key
        self.vars = dict(
            track.lab_vars,
            lab_dir=self.lab_dir,
            eas_resource_group_name=self.group,
            eas_service_name=self.service,
            eas_access_key_secret='it-rel-ak-secret-%s' % random_secrets.token_hex(12),
            oneapi_project_name='it-rel-%s-one-api' % key,
            oneapi_port=oneapi_port,
            chatgpt_web_project_name='it-rel-%s-chatgpt-web' % key,
            chatgpt_web_port=chatgpt_web_port,
            front_door_project_name='it-rel-%s-front-door' % key,
            front_door_https_port=self.front_door_https_port,
            front_door_http_port=self.front_door_http_port,
        )
        self.vars_file = os.path.join(self.dir, 'vars.json')
        with open(self.vars_file, 'w', encoding='utf-8') as handle:
            json.dump(self.vars, handle)
        self.secrets = {}

    def play(self, log_name, playbook, *extra):
        argv = ['ansible-playbook', '-i', self.track.inventory, '-e', '@' + self.vars_file]
        argv += list(extra) + [os.path.join(self.suite.coll, self.PLAYBOOKS[playbook])]
        path = os.path.join(self.suite.work, 'logs', log_name + '.log')
        log('run %s: %s %s' % (log_name, playbook, ' '.join(extra)))
        return Run(argv, path, self.dir, self.suite.mark)

    def converge(self, log_name, playbook, timeout, *extra):
        run = self.play(log_name, playbook, *extra)
        run.finish(timeout)
        return run

    def lab_secret(self, name):
        path = os.path.join(self.lab_dir, 'secrets', name)
        with open(path, encoding='utf-8') as handle:
            return handle.read().strip()

    def oneapi(self, address):
        api = OneApi(self.oneapi_port, address)
        if not api.login('root', self.lab_secret('oneapi_root_password')):
            raise SuiteError('one-api of %s refuses root with the lab password' % self.key)
        return api

    def gather_secrets(self):
        """Every secret of the deployment, read back from where it lives (the emulator, one-api, the lab)."""
        found = dict(self.secrets)
        found['EAS AccessKey secret'] = self.vars['eas_access_key_secret']
        for svc in self.track.emulator.services(self.service):
            found['EAS service token'] = svc.get('AccessToken')
        found['one-api root password'] = self.lab_secret('oneapi_root_password')
        found['chatgpt-web access key'] = self.lab_secret('chatgpt_web_auth_secret_key')
        api = self.oneapi('10.79.0.%d' % (len(self.key) + 1))
        for token in api.data('/api/token/?p=0') or []:
            if token.get('name') == 'chatgpt-web':
                found['one-api sk- token'] = (
                    'sk-' + token['key'] if not token['key'].startswith('sk-') else token['key']
                )
                found['one-api sk- token (without sk-)'] = token['key'].replace('sk-', '', 1)
        found['one-api root access token'] = (api.data('/api/user/self') or {}).get('access_token') or ''
        with open(os.path.join(self.lab_dir, 'one-api', 'session.env'), encoding='utf-8') as handle:
            found['one-api session secret'] = handle.read().strip().split('=', 1)[1]
        self.secrets = dict((k, v) for k, v in found.items() if v)
        return self.secrets

    def duplicates(self, category):
        """Check: one group, one service, one channel, one token, the nodes billed once."""
        suite, emulator = self.suite, self.track.emulator
        groups = emulator.groups(self.group)
        services = emulator.services(self.service)
        billed = emulator.billed_nodes(self.group)
        api = self.oneapi('10.78.0.%d' % (len(self.key) + 1))
        channels = api.data('/api/channel/?p=0') or []
        tokens = [t for t in api.data('/api/token/?p=0') or [] if t.get('name') == 'chatgpt-web']
        suite.check(
            category,
            len(groups) == 1 and len(services) == 1 and billed == 1 and len(channels) == 1 and len(tokens) == 1,
            '%s: %d group(s) named %s (%s), %d service(s), %d node(s) billed, %d one-api channel(s), %d token(s) '
            'named chatgpt-web (1 each expected)'
            % (
                self.key,
                len(groups),
                self.group,
                ', '.join(g['ResourceId'] for g in groups),
                len(services),
                billed,
                len(channels),
                len(tokens),
            ),
        )
        return len(groups) == 1 and len(services) == 1 and billed == 1 and len(channels) == 1 and len(tokens) == 1

    def projects(self):
        """The compose projects of the deployment."""
        return [self.vars[k] for k in ('oneapi_project_name', 'chatgpt_web_project_name', 'front_door_project_name')]

    def remove_containers(self):
        """Remove the containers of the deployment's compose projects (not the track's emulator)."""
        for project in self.projects():
            ids = docker('ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % project)[1].split()
            if ids:
                docker('rm', '-f', '-v', *ids)


def refused_in_preflight(run):
    plays = [line for line in run.lines if line.startswith('PLAY [')]
    return bool(plays) and plays[-1].startswith('PLAY [Pre-flight')


def normalized(text):
    """Output text with the YAML callback's quoting and line folding undone, for substring checks."""
    return re.sub(r'\s+', ' ', text.replace("''", "'"))


# --- track A ------------------------------------------------------------------------------------------------------


def track_a(suite):
    track = Track(suite, 'a', 19010)
    track.lab_vars['lab_eas_emulator_seed'] = FAULT_SEED
    stack = Stack(track, 'a', 19011, 19012, (19013, 19014))
    emulator = track.emulator
    run = stack.converge('a-00-lab-up', 'lab_up', 300)
    if not suite.check(
        'faults', run.rc == 0, 'the lab (EAS emulator %s) is up' % track.lab_vars['lab_eas_emulator_name']
    ):
        raise SuiteError(run.tail())
    emulator.wait_up()
    start = emulator.seq()
    emulator.faults(FAULTS)
    probe = InitialPasswordProbe(stack.oneapi_port, '10.77')
    probe.start()
    try:
        converged = cold_with_faults(suite, stack)
    finally:
        probe.stop.set()
        probe.join(5)
    requests = [r for r in emulator.requests(start) if r['plane'] == 'control']
    emulator.faults({})
    injected = [r for r in requests if r['code'] in ('Throttling.User', 'ServiceUnavailable')]
    suite.figure('faults', dict(injected=len(injected), calls=len(requests), runs=converged))
    suite.check(
        'faults',
        len(requests) > 0 and 0.2 <= len(injected) / float(len(requests)) <= 0.4,
        '%d of %d EAS API calls answered with throttling or 503 (%.0f %%)'
        % (len(injected), len(requests), 100.0 * len(injected) / max(1, len(requests))),
    )
    stack.duplicates('faults')
    figures = probe.figures()
    suite.check(
        'exposure',
        figures['accepted'] == 0 and figures['answered'] > 0,
        "one-api's root/123456 tried on its published port throughout the cold run: %(tries)d tries, %(answered)d "
        'answered, %(accepted)d accepted' % figures,
    )
    suite.figure('initial_password', figures)
    exposure(suite, stack)
    stack.gather_secrets()
    file_modes(suite, stack)
    outage_and_lock(suite, stack)
    stack.gather_secrets()
    run = stack.converge('a-40-teardown', 'teardown', 600, '-vvv', '-e', 'purge=true')
    suite.check('secrets', run.rc == 0, 'teardown (-vvv) ended with %s' % run.rc)
    suite.check('secrets', not containers(stack.prefix), 'nothing of %s is left after the teardown' % stack.prefix)
    logs = suite.logs('a-')
    found = secrets_in(logs, stack.secrets)
    suite.figure('secrets', dict(found=sum(len(v) for v in found.values()), kinds=len(stack.secrets), logs=len(logs)))
    suite.check(
        'secrets',
        not found,
        '%d secrets (%s) searched in %d -vvv logs of the cold runs, the reruns, the outage run and the teardowns: %s'
        % (len(stack.secrets), ', '.join(sorted(stack.secrets)), len(logs), found or 'none found'),
    )


def cold_with_faults(suite, stack):
    converged = None
    for attempt in range(1, CONVERGE_RUNS + 1):
        run = stack.converge('a-%02d-cold' % attempt, 'site', 900, '-vvv')
        log('cold run %d with faults: exit %s, recap %s' % (attempt, run.rc, run.recap()))
        if run.rc == 0:
            converged = attempt
            break
        log(run.tail(15))
    if not suite.check(
        'faults',
        converged is not None,
        'converged with 30 %% faults in %s of at most %d runs' % (converged, CONVERGE_RUNS),
    ):
        raise SuiteError('no convergence with faults')
    run = stack.converge('a-10-rerun', 'site', 900, '-vvv')
    suite.check(
        'faults',
        run.rc == 0 and (run.recap() or {}).get('changed') == 0,
        'the rerun with faults: exit %s, recap %s' % (run.rc, run.recap()),
    )
    return converged


def exposure(suite, stack):
    binds = published_bindings(stack.prefix)
    public = [b for b in binds if b[2] not in LOOPBACK]
    ports = set(b[3] for b in binds)
    sockets = listeners(ports)
    public_sockets = [s for s in sockets if s[0] not in LOOPBACK]
    expected = {
        stack.oneapi_port,
        stack.chatgpt_web_port,
        stack.front_door_https_port,
        stack.front_door_http_port,
        stack.track.lab_vars['lab_eas_emulator_port'],
    }
    suite.figure('binds', dict(published=len(binds), public=len(public) + len(public_sockets), sockets=len(sockets)))
    suite.check(
        'exposure',
        not public and not public_sockets and expected <= ports and len(sockets) >= len(ports),
        'published ports of %s*: %s; listening sockets on them: %s'
        % (stack.prefix, ', '.join('%s %s->%s:%s' % b for b in binds), ', '.join('%s:%s' % s for s in sockets)),
    )


def file_modes(suite, stack):
    skip = [stack.track.lab_vars['lab_eas_emulator_state_dir']]
    found = files_with_secrets(stack.lab_dir, stack.secrets.values(), skip)
    exposed = [f for f in found if f[2]]
    env_files = [
        os.path.join(stack.lab_dir, 'one-api', 'oneapi.env'),
        os.path.join(stack.lab_dir, 'one-api', 'session.env'),
        os.path.join(stack.lab_dir, 'chatgpt-web', 'chatgpt-web.env'),
    ]
    modes = dict((path, oct(os.stat(path).st_mode & 0o777)) for path in env_files)
    suite.figure('secret_files', dict(files=len(found), exposed=len(exposed)))
    suite.check(
        'secrets',
        found and not exposed and set(modes.values()) == {'0o600'},
        'files holding a secret under the lab directory: %s; readable by others: %d; env files %s'
        % (', '.join('%s %s' % (os.path.relpath(p, stack.lab_dir), oct(m)) for p, m, _e in found), len(exposed), modes),
    )


def outage_and_lock(suite, stack):
    """A run that has to wait for the service (an update), the API down mid-wait; a teardown tried meanwhile."""
    emulator = stack.track.emulator
    before = container_states(stack.prefix)
    start = emulator.seq()
    run = stack.play('a-20-outage', 'site', '-vvv', '-e', 'eas_max_model_len=16384')
    if not suite.check(
        'outage', run.wait_line(WAIT_TASK, 600) is not None, 'the run reached the wait for the model service'
    ):
        run.finish(600)
        raise SuiteError(run.tail())
    began = time.time()
    phases = []
    windows = []
    for number, (mode, seconds) in enumerate(OUTAGE_PHASES):
        phase_start = time.time()
        emulator.outage(seconds, mode)
        phases.append((mode, seconds))
        windows.append((mode, phase_start, phase_start + seconds))
        if number == 0:
            lock_refusal(suite, stack, run)
        if number + 1 < len(OUTAGE_PHASES):
            # The next mode takes over just before this one ends (refuse closes /_lab too, so it comes last).
            time.sleep(max(0.0, phase_start + seconds - 1.5 - time.time()))
    rc = run.finish(900)
    ended = time.time()
    # A run that ended early (failed) leaves the outage on: its requests are read once the emulator answers again.
    emulator.wait_up(sum(s for _m, s in OUTAGE_PHASES) + 30)
    requests = [r for r in emulator.requests(start) if r['plane'] == 'control']
    answered = [r for r in requests if r.get('outage')]
    span = (
        (max(r['ts'] + r['duration_ms'] / 1000.0 for r in answered) - min(r['ts'] for r in answered)) if answered else 0
    )
    # The polls of each phase: an html503 (or reset) phase answers them, so they span it; a refuse phase takes the
    # port down (nothing reaches the emulator, nothing is logged), so the run's first call after it shows the polling
    # went on through it.
    evidence = []
    for number, (mode, phase_start, phase_end) in enumerate(windows):
        until = windows[number + 1][1] if number + 1 < len(windows) else phase_end
        if mode == 'refuse':
            later = [r['ts'] for r in requests if r['ts'] >= phase_end]
            delay = (min(later) - phase_end) if later else None
            evidence.append(
                (
                    delay is not None and delay <= 15,
                    '%s %d s: the first call after it came %s'
                    % (mode, until - phase_start, '%.1f s after its end' % delay if later else 'never'),
                )
            )
        else:
            polls = [r for r in answered if r['outage'] == mode]
            covered = (max(r['ts'] for r in polls) - min(r['ts'] for r in polls)) if polls else 0
            evidence.append(
                (
                    covered >= until - phase_start - 15,
                    '%s %d s: %d polls answered with it over %d s' % (mode, until - phase_start, len(polls), covered),
                )
            )
    said = [int(n) for n in re.findall(r'the API did not answer for (\d+) s', run.text)]
    total = sum(s for _m, s in phases) - 1.5 * (len(phases) - 1)
    suite.figure(
        'outage',
        dict(seconds=round(total), span=round(span), said=max(said or [0]), phases=phases, run=round(ended - began)),
    )
    suite.check(
        'outage',
        rc == 0 and (run.recap() or {}).get('failed') == 0,
        'the run survived a %d s API outage (%s) in the model service wait: exit %s, recap %s'
        % (total, ' then '.join('%s %d s' % p for p in phases), rc, run.recap()),
    )
    suite.check(
        'outage',
        all(ok for ok, _what in evidence) and max(said or [0]) >= total - 35,
        'the run polled through the outage (%s); the run said "the API did not answer for %s s"'
        % ('; '.join(what for _ok, what in evidence), ', '.join(str(s) for s in said) or 'nothing'),
    )
    after = container_states(stack.prefix)
    gateway = [n for n in before if 'one-api' in n or 'chatgpt-web' in n or 'front-door' in n]
    suite.check(
        'lock',
        gateway and all(after.get(n) == before[n] and before[n][2] for n in gateway),
        'the deploy was not disturbed: %s still running, not restarted' % ', '.join(gateway),
    )


def lock_refusal(suite, stack, deploy):
    run = stack.converge('a-30-teardown-during-deploy', 'teardown', 300, '-vvv', '-e', 'purge=true')
    text = normalized(run.text)
    suite.check(
        'lock',
        run.rc != 0 and 'site.yml is running on this deployment' in text and deploy.proc.poll() is None,
        'a teardown started while site.yml runs: exit %s, "site.yml is running on this deployment" %s; the deploy %s'
        % (
            run.rc,
            'said' if 'site.yml is running on this deployment' in text else 'NOT said',
            'still runs' if deploy.proc.poll() is None else 'ended',
        ),
    )
    suite.check(
        'lock',
        not re.search(r'TASK \[.*(Take chatgpt-web down|Take one-api down|Delete the model service)', run.text),
        'the refused teardown ran none of its tasks',
    )


# --- track K ------------------------------------------------------------------------------------------------------


def track_k(suite, cases, lanes=2):
    """The kill cases in lanes side by side, each lane with its own emulator and network (cases of one lane one after
    the other: a case changes the emulator's faults and delays)."""
    survived = []
    threads = [
        threading.Thread(target=kill_lane, args=(suite, lane, cases[lane::lanes], survived), name='K%d' % lane)
        for lane in range(lanes)
        if cases[lane::lanes]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    suite.figure('kills', dict(survived=len(survived), tried=len(cases), cases=[c['what'] for c in cases]))


def kill_lane(suite, lane, cases, survived):
    track = Track(suite, 'k%s' % 'ab'[lane], 19060 + lane)
    emulator = track.emulator
    try:
        # (lab_up deploys no stack: the ports are not used)
        run = Stack(track, 'k%s' % 'ab'[lane], 19040, 19040, (19070, 19071)).converge(
            'k-0%d-lab-up' % lane, 'lab_up', 300
        )
        if not suite.check(
            'kills', run.rc == 0, 'the lab (EAS emulator %s) is up' % track.lab_vars['lab_eas_emulator_name']
        ):
            raise SuiteError(run.tail())
        emulator.wait_up()
    except (SuiteError, OSError) as err:
        suite.check('kills', False, 'lane %d: %s' % (lane, err))
        return
    for case in cases:
        number = int(case['id'][1:])
        stack = Stack(
            track, case['id'], 19039 + 2 * number, 19040 + 2 * number, (19070 + 2 * number, 19071 + 2 * number)
        )
        try:
            if kill_case(suite, stack, case):
                with suite.lock:
                    survived.append(case['id'])
        except (SuiteError, OSError) as err:
            suite.check('kills', False, '%s: %s' % (case['id'], err))
        finally:
            emulator.faults({})
            emulator.config(dict(service_ready_seconds=3))
            if os.environ.get('RELIABILITY_KEEP') != '1':
                stack.remove_containers()


def kill_case(suite, stack, case):
    emulator = stack.track.emulator
    name = 'kills %s (%s)' % (case['id'], case['what'])
    if case['point'] == 'group':
        emulator.faults(dict(latency_ms=CREATE_LATENCY_MS, actions=['CreateResource'], count=1))
    if case['point'] == 'wait':
        emulator.config(dict(service_ready_seconds=20))
    start = emulator.seq()
    probe = InitialPasswordProbe(stack.oneapi_port, '10.%d' % (60 + int(case['id'][1:])))
    probe.start()
    try:
        run = stack.play('k-%s-1-killed' % case['id'], 'product')
        if run.wait_line(KILL_POINTS[case['point']], 300) is None:
            run.finish(600)
            raise SuiteError('the run never reached %s; log: %s' % (case['point'], run.log_path))
        if case['point'] == 'group':
            sent = wait_create_sent(emulator, 60)
            time.sleep(max(0.0, sent + KILL_AFTER_CREATE_SENT - time.time()))
        elif case['point'] == 'wait':
            time.sleep(1.0)
        run.kill(SIGNALS[case['signal']])
        killed_at, killed_in = run.killed[1], run.killed[2]
        run.finish(120)
        log('%s: %s sent in "%s"; the run ended with %s' % (case['id'], case['signal'], killed_in, run.rc))
        ok = suite.check(
            name, re.search(KILL_POINTS[case['point']], killed_in) is not None, 'killed in: %s' % killed_in
        )
        if case['point'] == 'wait':
            emulator.config(dict(service_ready_seconds=3))
        if case['point'] == 'oneapi':
            outcomes = [probe.try_once() for _n in range(3)]
            ok &= suite.check(
                name,
                'accepted' not in outcomes,
                'root/123456 on the published port right after the kill: %s' % outcomes,
            )
        rerun = stack.converge('k-%s-2-rerun' % case['id'], 'product', 900)
        ok &= suite.check(
            name, rerun.rc == 0, 'the rerun at once converged: exit %s, recap %s' % (rerun.rc, rerun.recap())
        )
        if case['point'] == 'group':
            creates = sorted(
                (r for r in emulator.requests(start) if r['action'] == 'CreateResource'), key=lambda r: r['ts']
            )
            first = creates[0] if creates else None
            in_flight = bool(first) and first['ts'] < killed_at < first['ts'] + first['duration_ms'] / 1000.0
            ok &= suite.check(
                name,
                in_flight,
                'CreateResource was in flight when the signal came (sent %.1f s before it, answered %.1f s after)'
                % ((killed_at - first['ts']), (first['ts'] + first['duration_ms'] / 1000.0 - killed_at))
                if first
                else 'no CreateResource',
            )
            ok &= suite.check(
                name,
                len(creates) == 1,
                'nodes bought once: %d CreateResource call(s) since the case began' % len(creates),
            )
        ok &= stack.duplicates(name)
        again = stack.converge('k-%s-3-again' % case['id'], 'product', 900)
        ok &= suite.check(
            name,
            again.rc == 0 and (again.recap() or {}).get('changed') == 0,
            'the next rerun: exit %s, recap %s' % (again.rc, again.recap()),
        )
    finally:
        probe.stop.set()
        probe.join(5)
    figures = probe.figures()
    ok &= suite.check(
        name,
        figures['accepted'] == 0,
        'root/123456 tried on the published port throughout: %(tries)d tries, %(answered)d answered, %(limited)d rate-limited, %(accepted)d accepted'
        % figures,
    )
    stack.gather_secrets()
    found = secrets_in(suite.logs('k-%s-' % case['id']), stack.secrets)
    ok &= suite.check(name, not found, 'secrets in the logs of the case: %s' % (found or 'none'))
    return ok


def wait_create_sent(emulator, timeout):
    """The time CreateResource reached the emulator: its latency fault (count 1) is used up on arrival."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not emulator.faults():
            return time.time()
        time.sleep(0.1)
    raise SuiteError('CreateResource did not reach the emulator within %d s' % timeout)


# --- track I ------------------------------------------------------------------------------------------------------


def track_i(suite, cases):
    track = Track(suite, 'in', 19090)
    emulator = track.emulator
    stack = Stack(track, 'in', 19091, 19092, (19093, 19094))
    run = stack.converge('i-00-lab-up', 'lab_up', 300)
    if not suite.check(
        'inputs', run.rc == 0, 'the lab (EAS emulator %s) is up' % track.lab_vars['lab_eas_emulator_name']
    ):
        raise SuiteError(run.tail())
    emulator.wait_up()
    # The valid deployment these cases spoil passes the pre-flight (a check run of the EAS part: reads only).
    start = emulator.seq()
    run = stack.converge('i-01-baseline', 'product', 300, '--check', '--tags', 'eas')
    writes = emulator.summary(start)['writes']
    suite.check(
        'inputs',
        run.rc == 0
        and writes == 0
        and 'TASK [llmops.eas_stack.eas_model : Create or scale the dedicated resource group' in run.text,
        'the valid variables pass the pre-flight (check run: exit %s, %d writes)' % (run.rc, writes),
    )
    refused = []
    for number, case in enumerate(cases):
        if input_case(suite, stack, case, number):
            refused.append(case['id'])
    suite.figure('inputs', dict(refused=len(refused), tried=len(cases)))


def setup_case(emulator, setup):
    if setup == 'stockout':
        emulator.call('POST', '/_lab/stock', dict(instance_type='ecs.gn7i-c8g1.2xlarge', stock_status='NoStock'))
    elif setup == 'foreign_group' and not emulator.groups('it-rel-in-foreign'):
        emulator.call(
            'POST',
            '/api/v2/resources',
            dict(
                ResourceType='Dedicated',
                ResourceName='it-rel-in-foreign',
                EcsInstanceType='ecs.gn7i-c8g1.2xlarge',
                EcsInstanceCount=1,
                ChargeType='PostPaid',
            ),
        )


def input_case(suite, stack, case, number):
    emulator = stack.track.emulator
    setup_case(emulator, case.get('setup'))
    case_vars = os.path.join(stack.dir, 'case-%02d.json' % number)
    with open(case_vars, 'w', encoding='utf-8') as handle:
        json.dump(case['vars'], handle)
    projects = set(stack.projects())
    projects |= set(v for k, v in case['vars'].items() if k.endswith('_project_name') and v)
    start = emulator.seq()
    try:
        run = stack.converge(
            'i-%02d-%s' % (number + 2, case['id']),
            'site' if case.get('root') else 'product',
            300,
            '-e',
            '@' + case_vars,
        )
    finally:
        if case.get('setup') == 'stockout':
            emulator.call('DELETE', '/_lab/stock')
    summary = emulator.summary(start)
    started = [
        p for p in projects if docker('ps', '-aq', '--filter', 'label=com.docker.compose.project=%s' % p)[1].strip()
    ]
    text = normalized(run.text)
    missing = [e for e in case['expect'] if normalized(e) not in text]
    problems = []
    if run.rc == 0:
        problems.append('the run succeeded')
    if not refused_in_preflight(run):
        problems.append(
            'not refused in the pre-flight play (last play: %s)'
            % [ln for ln in run.lines if ln.startswith('PLAY [')][-1:]
        )
    if missing:
        problems.append('the output does not say %s' % missing)
    if summary['writes']:
        problems.append('%d write(s) reached the EAS API: %s' % (summary['writes'], summary['by_action']))
    if case.get('reads') and not summary['reads']:
        problems.append('refused without reading the cloud, but this check needs the cloud')
    if started:
        problems.append('compose project(s) started: %s' % started)
    if summary['writes'] or started:
        # What a wrongly accepted input made is removed, so that the next case starts from the same state.
        stack.remove_containers()
        emulator.call('POST', '/_lab/reset')
        for folder in ('one-api', 'chatgpt-web'):
            shutil.rmtree(os.path.join(stack.lab_dir, folder), ignore_errors=True)
    return suite.check(
        'inputs',
        not problems,
        '%s (%s): %s'
        % (
            case['id'],
            ', '.join('%s=%r' % kv for kv in case['vars'].items()) or case.get('setup'),
            '; '.join(problems) or 'refused in the pre-flight, %d reads, 0 writes' % summary['reads'],
        ),
    )


def input_cases():
    return CASES
