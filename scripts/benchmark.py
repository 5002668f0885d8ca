# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the lab deployment and print figures (no pass/fail thresholds).

    .venv/bin/python scripts/benchmark.py [--price-per-node-hour 15] [--keep]

Runs the whole stack in the lab under its own names and ports (a running `make demo` stack is left alone):
a cold converge from nothing, a warm rerun, and a teardown; then prints wall times, how much of the EAS
start-up the gateway overlapped, the smoke chat's latency, the billed node time the emulator recorded and
what that node time would cost at the given hourly price (default: the published upper bound of about
CNY 15 per hour for ecs.gn7i-c8g1.2xlarge; confirm the real price in the console).

The lab's delays are configured, not the cloud's: real provisioning of a GPU node and a model takes
minutes. The figures show what the automation itself adds and that nothing bills after teardown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18095

BENCH_VARS = {
    'lab_docker_network': 'llmops-bench',
    'lab_eas_emulator_name': 'bench-eas-emulator',
    'lab_eas_emulator_port': PORT,
    'eas_resource_group_name': 'bench-group',
    'eas_service_name': 'bench_deepseek',
    'oneapi_project_name': 'bench-one-api',
    'oneapi_port': 15201,
    'chatgpt_web_project_name': 'bench-chatgpt-web',
    'chatgpt_web_port': 13202,
}


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
    return datetime.datetime.strptime(value, '%Y-%m-%dT%H:%M:%S.%fZ')


def task_spans(data):
    """Yield (play name, task name, start, end) for every task of a JSON-callback run."""
    for play in data.get('plays', []):
        for task in play.get('tasks', []):
            duration = task['task'].get('duration') or {}
            if duration.get('start') and duration.get('end'):
                yield (
                    play['play']['name'],
                    task['task']['name'],
                    parse_time(duration['start']),
                    parse_time(duration['end']),
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


def billing():
    with urllib.request.urlopen('http://127.0.0.1:%d/_lab/billing' % PORT, timeout=10) as resp:
        return json.load(resp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--price-per-node-hour', type=float, default=15.0, help='CNY per GPU node hour (default 15)')
    parser.add_argument('--keep', action='store_true', help='leave the benchmark stack running')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='llmops-bench-')
    vars_file = os.path.join(work, 'bench-vars.json')
    with open(vars_file, 'w', encoding='utf-8') as handle:
        json.dump(dict(BENCH_VARS, lab_dir=os.path.join(work, 'lab')), handle)

    site = os.path.join(ROOT, 'playbooks', 'site.yml')
    teardown = os.path.join(ROOT, 'playbooks', 'teardown.yml')
    figures = []

    cold, cold_data, rc = run_playbook(site, vars_file)
    if rc:
        raise SystemExit('cold converge failed (rc=%d); see `ansible-playbook site.yml` output' % rc)
    figures.append(('cold converge (from nothing), s', '%.1f' % cold))
    eas = play_span(cold_data, 'PAI-EAS')
    gateway = play_span(cold_data, 'Gateway')
    wait = play_span(cold_data, 'Wait until the EAS model')
    if eas and gateway and wait:
        figures.append(('EAS create (group ready + service submitted), s', '%.1f' % (eas[1] - eas[0]).total_seconds()))
        figures.append(('gateway (one-api + chatgpt-web) up, s', '%.1f' % (gateway[1] - gateway[0]).total_seconds()))
        figures.append(('EAS wait left after the gateway, s', '%.1f' % (wait[1] - wait[0]).total_seconds()))
    for _play, task, start, end in task_spans(cold_data):
        if task == 'Chat through chatgpt-web with the access key':
            figures.append(('smoke chat through chatgpt-web, s', '%.2f' % (end - start).total_seconds()))
    billed = billing()
    figures.append(('GPU nodes billed while deployed', billed.get('total_billed_nodes')))

    warm, warm_data, rc = run_playbook(site, vars_file)
    figures.append(('warm rerun, s', '%.1f' % warm))
    figures.append(('warm rerun: changed tasks', changed_total(warm_data)))

    if not args.keep:
        deployed_seconds = cold + warm
        seconds, data, rc = run_playbook(teardown, vars_file, '-e', 'purge=true')
        deployed_seconds += seconds
        figures.append(('teardown, s', '%.1f' % seconds))
        figures.append(('teardown failures', failed_total(data)))
        nodes = billed.get('total_billed_nodes') or 0
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

    width = max(len(name) for name, _value in figures)
    print('llmops.eas_stack lab benchmark (%s)' % datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))
    for name, value in figures:
        print('  %s  %s' % (name.ljust(width), value))
    return 0


if __name__ == '__main__':
    sys.exit(main())
