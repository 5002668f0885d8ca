# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure a model catalog and a blue/green change in the lab, and print figures (no pass/fail thresholds).

    .venv/bin/python scripts/benchmark_catalog.py [--rate 4] [--keep]

Deploys a catalog of two models on two instance types (the root site.yml with the lab inventory, under its own names
and ports, so a running `make demo` stack is left alone), reruns it, then changes the small model's vLLM arguments
with eas_change_strategy=blue_green while a steady chat load goes through one-api, and tears everything down. Prints
the wall times, the requests sent and failed during the change, how long the old service was idle before its
deletion, how long its node and the new generation's node were billed together (the overlap) and what that overlap
costs at the collection's published price of the node.

The lab's delays are configured, not the cloud's: on Alibaba Cloud a GPU node and a model take minutes to come up, so
the overlap (and its cost) is minutes of one node, not seconds.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATOR_PORT = 18075
ONEAPI_PORT = 18076
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SMALL_TYPE = 'ecs.gn7i-c8g1.2xlarge'

BENCH_VARS = {
    'lab_docker_network': 'llmops-bench-cat',
    'lab_eas_emulator_name': 'bench-cat-eas-emulator',
    'lab_eas_emulator_port': EMULATOR_PORT,
    'lab_eas_service_ready_seconds': 3,
    'lab_eas_resource_ready_seconds': 2,
    'eas_catalog_name': 'bench-cat',
    'oneapi_project_name': 'bench-cat-one-api',
    'oneapi_port': ONEAPI_PORT,
    'chatgpt_web_project_name': 'bench-cat-chatgpt-web',
    'chatgpt_web_port': 18077,
    'front_door_project_name': 'bench-cat-front-door',
    'front_door_https_port': 18078,
    'front_door_http_port': 18079,
}


def catalog(small_args):
    return [
        {
            'service_name': 'bench_small',
            'model': 'DeepSeek-R1-Distill-Qwen-1.5B',
            'instance_type': SMALL_TYPE,
            'aliases': ['gpt-4-32k'],
            'default': True,
            'change_strategy': 'blue_green',
            'vllm_extra_args': small_args,
        },
        {
            'service_name': 'bench_big',
            'model': 'DeepSeek-R1-Distill-Qwen-7B',
            'instance_type': 'ecs.gn6e-c12g1.3xlarge',
            'aliases': ['bench-7b'],
        },
    ]


def call(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    if data is not None:
        request.add_header('Content-Type', 'application/json')
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors='replace'), err.headers


def lab(path):
    return json.loads(call('http://127.0.0.1:%d%s' % (EMULATOR_PORT, path))[1])


def playbook(name, vars_files, *args):
    """Run a root playbook with the JSON callback; return (seconds, changed tasks, failures)."""
    env = dict(
        os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg')
    )
    cmd = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), os.path.join(ROOT, name)]
    for path in vars_files:
        cmd += ['-e', '@' + path]
    start = time.monotonic()
    proc = subprocess.run(cmd + list(args), cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    try:
        stats = json.loads(proc.stdout[proc.stdout.index('{') :]).get('stats', {})
    except ValueError:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit('%s did not produce JSON output (rc=%d)' % (name, proc.returncode))
    changed = sum(host.get('changed', 0) for host in stats.values())
    failures = sum(host.get('failures', 0) + host.get('unreachable', 0) for host in stats.values())
    if proc.returncode:
        raise SystemExit('%s failed (rc=%d, %d failures)' % (name, proc.returncode, failures))
    return seconds, changed, failures


def sk_token(password_file):
    with open(password_file, encoding='utf-8') as handle:
        password = handle.read().strip()
    base = 'http://127.0.0.1:%d' % ONEAPI_PORT
    _status, _body, headers = call(base + '/api/user/login', {'username': 'root', 'password': password})
    cookie = (headers.get('Set-Cookie') or '').split(';')[0]
    key = json.loads(call(base + '/api/token/?p=0', headers={'Cookie': cookie})[1])['data'][-1]['key']
    return key if key.startswith('sk-') else 'sk-' + key


class Load:
    """A steady chat load through one-api (one thread per request, so a slow answer does not lower the rate)."""

    def __init__(self, key, alias, rate):
        self.key, self.alias, self.interval = key, alias, 1.0 / rate
        self.results, self.lock, self.stop = [], threading.Lock(), threading.Event()
        self.threads = []
        self.runner = threading.Thread(target=self.run, daemon=True)

    def ask(self):
        status, body, _headers = call(
            'http://127.0.0.1:%d/v1/chat/completions' % ONEAPI_PORT,
            {'model': self.alias, 'messages': [{'role': 'user', 'content': 'Say hello.'}]},
            {'Authorization': 'Bearer ' + self.key},
        )
        with self.lock:
            self.results.append(json.loads(body).get('model') if status == 200 else 'failed: HTTP %d' % status)

    def run(self):
        next_at = time.monotonic()
        while not self.stop.is_set():
            thread = threading.Thread(target=self.ask, daemon=True)
            thread.start()
            self.threads.append(thread)
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self):
        self.runner.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.runner.join()
        for thread in self.threads:
            thread.join(70)


def node_price():
    sys.path.insert(0, os.path.join(ROOT, '.collections'))
    try:
        from ansible_collections.llmops.eas_stack.plugins.module_utils.gpu_sizing import (  # pylint: disable=import-outside-toplevel
            node_price as price,
        )
    except ImportError:
        return 15.0
    return price(SMALL_TYPE) or 15.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--rate', type=float, default=4.0, help='chat requests per second during the change')
    parser.add_argument('--keep', action='store_true', help='leave the benchmark stack running')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='llmops-bench-cat-')
    base_vars, first, changed = (os.path.join(work, n) for n in ('vars.json', 'catalog.json', 'changed.json'))
    for path, content in (
        (base_vars, dict(BENCH_VARS, lab_dir=os.path.join(work, 'lab'))),
        (first, {'eas_models': catalog([])}),
        (changed, {'eas_models': catalog(['--enable-prefix-caching'])}),
    ):
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(content, handle)
    figures = []
    try:
        seconds, _changed, _failures = playbook('site.yml', [base_vars, first])
        figures.append(('converge of 2 models on 2 instance types, s', '%.1f' % seconds))
        seconds, changes, _failures = playbook('site.yml', [base_vars, first])
        figures.append(('rerun, s', '%.1f (changed tasks: %d)' % (seconds, changes)))

        key = sk_token(os.path.join(work, 'lab', 'secrets', 'oneapi_root_password'))
        since_seq = lab('/_lab/requests?since=0')['next']
        since_time = time.time()
        with Load(key, 'gpt-4-32k', args.rate) as load:
            seconds, _changed, _failures = playbook('site.yml', [base_vars, changed])
        figures.append(('blue/green change (site.yml run), s', '%.1f' % seconds))
        answers = collections.Counter(load.results)
        failed = sum(count for name, count in answers.items() if str(name).startswith('failed'))
        figures.append(('chat requests during the change (%.0f/s)' % args.rate, len(load.results)))
        figures.append(('failed requests during the change', failed))

        log = lab('/_lab/requests?since=%d' % since_seq)['requests']
        old = [r for r in log if r['plane'] == 'data' and r['path'].startswith('/api/predict/bench_small/')]
        deleted = [r for r in log if r.get('action') == 'DeleteService' and r['path'].endswith('/bench_small')]
        if old and deleted:
            figures.append(('old service idle before its deletion, s', '%.1f' % (deleted[0]['ts'] - old[-1]['ts'])))
        usage = lab('/_lab/billing/usage?since=%f' % since_time)
        nodes = dict((n['ResourceName'], n) for n in usage['nodes'])
        old_node, new_node = nodes.get('bench_small'), nodes.get('bench_small_g2')
        if old_node and new_node and old_node['end']:
            overlap = max(0.0, old_node['end'] - new_node['start'])
            price = node_price()
            figures.append(('nodes billed together (old + new generation), s', '%.1f' % overlap))
            figures.append(
                ('cost of the overlap at CNY %.2f/node-hour, CNY' % price, '%.4f' % (overlap / 3600.0 * price))
            )
            figures.append(('GPU nodes billed after the change', lab('/_lab/billing')['total_billed_nodes']))
    finally:
        if not args.keep:
            seconds, _changed, failures = playbook('teardown.yml', [base_vars, changed], '-e', 'purge=true')
            figures.append(('teardown, s', '%.1f (failures: %d)' % (seconds, failures)))

    width = max(len(name) for name, _value in figures)
    print('llmops.eas_stack catalog benchmark (%s)' % datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))
    for name, value in figures:
        print('  %s  %s' % (name.ljust(width), value))
    return 0


if __name__ == '__main__':
    sys.exit(main())
