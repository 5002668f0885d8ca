# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the whole lab deployment and print figures (no pass/fail thresholds).

    .venv/bin/python scripts/benchmark.py [--node-seconds 60] [--service-seconds 90] [--price-per-node-hour 15] [--keep]

Runs the root site.yml (the lab plays, then the production playbook) under its own names and ports, so a running
`make demo` stack is left alone: a cold converge from nothing with the EAS emulator taking --node-seconds to make a
GPU node ready and --service-seconds to start the model (what the cloud needs at the least, node then model), a
no-op rerun, and the teardown. It prints:

* the cold converge against the emulated cloud time (node + model), as a ratio: what the automation adds;
* when the model service was created after the node was ready, and how late the waits saw readiness;
* whether the gateway came up during the node purchase;
* the rerun's requests per managed object, read from the emulator's and one-api's request logs, and its writes;
* the billed node time and its cost at --price-per-node-hour (default: the published upper bound of about CNY 15 per
  hour for ecs.gn7i-c8g1.2xlarge; confirm the real price in the console).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18095
ONEAPI_PROJECT = 'bench-one-api'

BENCH_VARS = {
    'lab_docker_network': 'llmops-bench',
    'lab_eas_emulator_name': 'bench-eas-emulator',
    'lab_eas_emulator_port': PORT,
    'eas_resource_group_name': 'bench-group',
    'eas_service_name': 'bench_deepseek',
    'oneapi_project_name': ONEAPI_PROJECT,
    'oneapi_port': 15201,
    'chatgpt_web_project_name': 'bench-chatgpt-web',
    'chatgpt_web_port': 13202,
    'front_door_project_name': 'bench-front-door',
    'front_door_https_port': 16045,
    'front_door_http_port': 16082,
}

# What each EAS read of a rerun is about.
EAS_OBJECTS = {
    'ListResources': 'resource group',
    'DescribeResource': 'resource group',
    'ListResourceInstances': 'resource group nodes',
    'DescribeService': 'model service',
    'ListServices': "the region's services, one list for the plan",
    'DescribeMachineSpec': 'region offer (pre-flight)',
}
# What each one-api call of a rerun is about (method, path prefix).
ONEAPI_OBJECTS = [
    ('POST', '/api/user/login', 'login'),
    ('GET', '/api/status', 'status'),
    ('GET', '/api/user/self', 'root user'),
    ('GET', '/api/option', 'options'),
    ('GET', '/api/channel', 'channel'),
    ('GET', '/api/token', 'token'),
    ('', '/v1/', 'smoke chats (relay)'),
]


def run_playbook(playbook, extra_vars_file, *args):
    """Run a playbook with the JSON callback; return (seconds, parsed output, return code)."""
    env = dict(
        os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg')
    )
    cmd = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), playbook, '-e', '@' + extra_vars_file] + list(args)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    try:
        data = json.loads(proc.stdout[proc.stdout.index('{') :])
    except ValueError:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit('%s did not produce JSON output (rc=%d)' % (playbook, proc.returncode))
    return seconds, data, proc.returncode


def parse_time(value):
    return datetime.datetime.strptime(value, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)


def task_spans(data):
    """Yield (play name, task name, start, end) (POSIX seconds) for every task of a JSON-callback run."""
    for play in data.get('plays', []):
        for task in play.get('tasks', []):
            duration = task['task'].get('duration') or {}
            if duration.get('start') and duration.get('end'):
                yield (
                    play['play']['name'],
                    task['task']['name'],
                    parse_time(duration['start']).timestamp(),
                    parse_time(duration['end']).timestamp(),
                )


def play_span(data, prefix):
    spans = [(s, e) for play, _task, s, e in task_spans(data) if play.startswith(prefix)]
    if not spans:
        return None
    return min(s for s, _e in spans), max(e for _s, e in spans)


def changed_total(data):
    return sum(host.get('changed', 0) for host in data.get('stats', {}).values())


def failed_total(data):
    return sum(host.get('failures', 0) + host.get('unreachable', 0) for host in data.get('stats', {}).values())


def lab(path):
    with urllib.request.urlopen('http://127.0.0.1:%d%s' % (PORT, path), timeout=10) as resp:
        return json.load(resp)


def first_request(entries, action):
    for entry in entries:
        if entry.get('action') == action:
            return entry['ts']
    return None


def oneapi_calls(since):
    """(method, path) of every request one-api logged since the POSIX time ``since``."""
    proc = subprocess.run(
        ['docker', 'logs', '--since', '%.3f' % since, '%s-one-api-1' % ONEAPI_PROJECT],
        capture_output=True,
        text=True,
        check=False,
    )
    return re.findall(r'"(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP/', proc.stdout + proc.stderr)


def per_object(counts):
    return ', '.join('%s %d' % (name, n) for name, n in sorted(counts.items())) or 'none'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--node-seconds', type=int, default=60, help='emulated time until a GPU node is ready')
    parser.add_argument('--service-seconds', type=int, default=90, help='emulated time until the model answers')
    parser.add_argument('--price-per-node-hour', type=float, default=15.0, help='CNY per GPU node hour (default 15)')
    parser.add_argument('--keep', action='store_true', help='leave the benchmark stack running')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='llmops-bench-')
    vars_file = os.path.join(work, 'bench-vars.json')
    with open(vars_file, 'w', encoding='utf-8') as handle:
        json.dump(
            dict(
                BENCH_VARS,
                lab_dir=os.path.join(work, 'lab'),
                lab_eas_resource_ready_seconds=args.node_seconds,
                lab_eas_service_ready_seconds=args.service_seconds,
            ),
            handle,
        )
    site = os.path.join(ROOT, 'site.yml')
    teardown = os.path.join(ROOT, 'teardown.yml')

    try:
        figures = measure(args, site, teardown, vars_file)
    except BaseException:
        if not args.keep:
            # A failed measurement leaves nothing of the benchmark up either.
            run_playbook(teardown, vars_file, '-e', 'purge=true')
        raise

    width = max(len(name) for name, _value in figures)
    print('llmops.eas_stack lab benchmark (%s)' % datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))
    for name, value in figures:
        print('  %s  %s' % (name.ljust(width), value))
    return 0


def measure(args, site, teardown, vars_file):
    figures = []
    cold, cold_data, rc = run_playbook(site, vars_file)
    if rc:
        raise SystemExit('cold converge failed (rc=%d); see `ansible-playbook site.yml` output' % rc)
    cloud = args.node_seconds + args.service_seconds
    lab_span = play_span(cold_data, 'Bring up the lab')
    lab_seconds = (lab_span[1] - lab_span[0]) if lab_span else 0.0
    product = cold - lab_seconds
    figures.append(
        ('emulated cloud time (node %d s + model %d s), s' % (args.node_seconds, args.service_seconds), cloud)
    )
    figures.append(('cold run of the root site.yml, s', '%.1f' % cold))
    figures.append(('  of which the lab set-up (emulator container), s', '%.1f' % lab_seconds))
    figures.append(('cold converge of the deployment (playbooks/site.yml), s', '%.1f' % product))
    figures.append(('cold converge / emulated cloud time', '%.2f' % (product / cloud)))

    log = lab('/_lab/requests')['requests']
    group_created = first_request(log, 'CreateResource')
    service_created = first_request(log, 'CreateService')
    wait = play_span(cold_data, 'Wait until the model service')
    wait_end = wait[1] if wait else None
    gateway = play_span(cold_data, 'Gateway')
    preflight = play_span(cold_data, 'Pre-flight')
    smoke = play_span(cold_data, 'Smoke test')
    if preflight and group_created:
        figures.append(('  pre-flight until the first EAS write, s', '%.1f' % (group_created - preflight[0])))
    if smoke:
        figures.append(('  channel test and smoke chats after the model answered, s', '%.1f' % (smoke[1] - smoke[0])))
    if group_created and service_created:
        node_ready = group_created + args.node_seconds
        figures.append(('service created after the node was ready, s', '%.1f' % (service_created - node_ready)))
        if wait_end:
            late = wait_end - (service_created + args.service_seconds)
            figures.append(('model readiness seen after it answered, s (incl. the wait task end)', '%.1f' % late))
        if gateway:
            overlap = max(0.0, min(gateway[1], node_ready) - max(gateway[0], group_created))
            figures.append(
                ('gateway up during the node purchase, s of %.1f' % (gateway[1] - gateway[0]), '%.1f' % overlap)
            )
    # Where the cold run's time went: each play's start (from the first task of the run) and duration.
    plays = collections.OrderedDict()
    for play, _task, start, end in task_spans(cold_data):
        first, last = plays.get(play, (start, end))
        plays[play] = (min(first, start), max(last, end))
    origin = min(s for s, _e in plays.values()) if plays else 0.0
    for play, (start, end) in plays.items():
        figures.append(('  play at +%.1f s: %s, s' % (start - origin, play[:60]), '%.1f' % (end - start)))
    nodes = lab('/_lab/billing').get('total_billed_nodes') or 0
    figures.append(('GPU nodes billed while deployed', nodes))

    before = lab('/_lab/requests/summary')['next']
    rerun_start = time.time()
    warm, warm_data, rc = run_playbook(site, vars_file)
    summary = lab('/_lab/requests/summary?since=%d' % before)
    figures.append(('no-op rerun, s', '%.1f' % warm))
    figures.append(('no-op rerun: changed tasks', changed_total(warm_data)))
    eas_reads = collections.Counter()
    for action, count in summary['by_action'].items():
        eas_reads['%s (%s)' % (EAS_OBJECTS.get(action, '?'), action)] += count
    figures.append(('no-op rerun: EAS writes', summary['writes']))
    figures.append(('no-op rerun: EAS reads per object', per_object(eas_reads)))
    oneapi = collections.Counter()
    writes = 0
    for method, path in oneapi_calls(rerun_start):
        name = next((n for m, p, n in ONEAPI_OBJECTS if path.startswith(p) and (not m or m == method)), path)
        oneapi['%s (%s %s)' % (name, method, path.split('?')[0])] += 1
        if method != 'GET' and name not in ('login', 'smoke chats (relay)'):
            writes += 1
    figures.append(('no-op rerun: one-api writes', writes))
    figures.append(('no-op rerun: one-api requests per object', per_object(oneapi)))

    if not args.keep:
        deployed_seconds = cold + warm
        seconds, data, rc = run_playbook(teardown, vars_file, '-e', 'purge=true')
        deployed_seconds += seconds
        figures.append(('teardown, s', '%.1f' % seconds))
        figures.append(('teardown failures', failed_total(data)))
        node_hours = nodes * deployed_seconds / 3600.0
        figures.append(('billed node time of this run, node-hours', '%.4f' % node_hours))
        figures.append(
            (
                'cost of that node time at CNY %.2f/node-hour' % args.price_per_node_hour,
                '%.2f' % (node_hours * args.price_per_node_hour),
            )
        )
        figures.append(
            ('idle cost if teardown is forgotten, CNY/day', '%.2f' % (nodes * 24 * args.price_per_node_hour))
        )
    return figures


if __name__ == '__main__':
    sys.exit(main())
