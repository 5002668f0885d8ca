# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throughput and added latency of the gateway with one and with two one-api nodes (figures only, no thresholds).

    python scripts/benchmark_scale.py [--requests 300] [--concurrency 8] [--tokens 20] [--oneapi-image IMAGE] [--keep]

Deploys the lab with two one-api nodes (inventories/lab-multinode's layout: gw1 and gw2 on MariaDB and Redis behind
HAProxy) under its own names and ports (the lab play, then playbooks/site.yml with the tags `eas` and `oneapi`: no
chatgpt-web), then sends the same
chat load, non-streamed, to:

  1. the EAS emulator's data plane directly (the model, as one-api reaches it);
  2. one one-api node directly (gw1's published port);
  3. the balancer with one node (gw2 stopped);
  4. the balancer with two nodes.

For each: requests per second, p50 and p99 latency, and the latency added to the emulator's (same percentile).
Everything runs on this machine (loopback only), so the nodes share its cores: the figures show what the gateway and
the balancer add, not the throughput of separate gateway hosts. Teardown with purge at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
EMULATOR_PORT, BALANCER_PORT, GW1_PORT, GW2_PORT = 17090, 17091, 17092, 17093

INVENTORY = """
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: {python}
  children:
    gateway:
      hosts:
        gw1: {{ansible_connection: local, ansible_python_interpreter: {python}, oneapi_project_name: {prefix}-gw1,
              oneapi_port: {gw1}, oneapi_network_aliases: [{prefix}-gw1], oneapi_backend_address: "{prefix}-gw1:3000"}}
        gw2: {{ansible_connection: local, ansible_python_interpreter: {python}, oneapi_project_name: {prefix}-gw2,
              oneapi_port: {gw2}, oneapi_network_aliases: [{prefix}-gw2], oneapi_backend_address: "{prefix}-gw2:3000"}}
    datastore: {{hosts: {{localhost: {{}}}}}}
    balancer: {{hosts: {{localhost: {{}}}}}}
    lab: {{hosts: {{localhost: {{}}}}}}
"""

# The lab-multinode settings under the benchmark's names (lab.yml of inventories/lab is loaded beside them).
BENCH_VARS = """
lab_dir: "{workdir}/lab"
lab_docker_network: llmops-{prefix}
lab_eas_emulator_name: {prefix}-eas
lab_eas_emulator_port: {emulator}
lab_eas_service_ready_seconds: 2
lab_eas_resource_ready_seconds: 1
eas_resource_group_name: {service_prefix}_rg
eas_service_name: {service_prefix}_svc
oneapi_project_dir: "{{{{ lab_dir }}}}/{{{{ inventory_hostname }}}}"
oneapi_datastore_project_name: {prefix}-datastore
oneapi_datastore_project_dir: "{{{{ lab_dir }}}}/datastore"
oneapi_datastore_mariadb_name: {prefix}-mariadb
oneapi_datastore_redis_name: {prefix}-redis
oneapi_balancer_project_name: {prefix}-balancer
oneapi_balancer_project_dir: "{{{{ lab_dir }}}}/balancer"
oneapi_balancer_network_name: {prefix}-balancer
oneapi_balancer_port: {balancer}
oneapi_sql_dsn: "oneapi:{{{{ oneapi_datastore_password }}}}@tcp({prefix}-mariadb:3306)/oneapi"
oneapi_redis_conn_string: "redis://:{{{{ oneapi_datastore_redis_password }}}}@{prefix}-redis:6379"
"""


def inventory(workdir, prefix):
    """A copy of inventories/lab-multinode's variables with the benchmark's hosts, names and ports."""
    inv = os.path.join(workdir, 'inventory')
    os.makedirs(os.path.join(inv, 'group_vars', 'all'))
    shutil.copy(
        os.path.join(ROOT, 'inventories', 'lab', 'group_vars', 'all', 'lab.yml'), os.path.join(inv, 'group_vars', 'all')
    )
    with open(
        os.path.join(ROOT, 'inventories', 'lab-multinode', 'group_vars', 'all', 'multinode.yml'), encoding='utf-8'
    ) as src:
        multinode = src.read()
    with open(os.path.join(inv, 'group_vars', 'all', 'multinode.yml'), 'w', encoding='utf-8') as dst:
        dst.write(multinode)
    with open(os.path.join(inv, 'group_vars', 'all', 'zz-bench.yml'), 'w', encoding='utf-8') as dst:
        dst.write(
            BENCH_VARS.format(
                workdir=workdir,
                prefix=prefix,
                service_prefix=prefix.replace('-', '_'),
                emulator=EMULATOR_PORT,
                balancer=BALANCER_PORT,
            )
        )
    with open(os.path.join(inv, 'hosts.yml'), 'w', encoding='utf-8') as dst:
        dst.write(INVENTORY.format(python=json.dumps(sys.executable), gw1=GW1_PORT, gw2=GW2_PORT, prefix=prefix))
    return inv


def playbook(inv, name, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', inv, os.path.join(ROOT, name)] + list(args)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-3000:])
        raise SystemExit('%s failed (rc=%d)' % (name, proc.returncode))
    return time.monotonic() - started


def http(url, body=None, headers=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method='POST' if data else 'GET')
    req.add_header('Content-Type', 'application/json')
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    with OPENER.open(req, timeout=timeout) as resp:
        return resp.status, resp.headers, resp.read()


def secret(workdir, name):
    with open(os.path.join(workdir, 'lab', 'secrets', name), encoding='utf-8') as handle:
        return handle.read().strip()


def oneapi_key(workdir):
    """The sk- key of the token the oneapi role made (read through the balancer, logged in as root)."""
    body = {'username': 'root', 'password': secret(workdir, 'oneapi_root_password')}
    _status, headers, _data = http('http://127.0.0.1:%d/api/user/login' % BALANCER_PORT, body)
    cookie = headers.get('Set-Cookie', '').split(';')[0]
    _status, _headers, data = http(
        'http://127.0.0.1:%d/api/token/search?keyword=chatgpt-web' % BALANCER_PORT, headers={'Cookie': cookie}
    )
    return 'sk-' + json.loads(data)['data'][0]['key']


def load(url, auth, model, requests, concurrency, tokens):
    """``requests`` chats with ``concurrency`` at a time; (requests per second, latencies in ms, failures)."""
    body = {'model': model, 'messages': [{'role': 'user', 'content': 'benchmark tokens:%d' % tokens}]}
    latencies, failures, lock = [], [0], threading.Lock()
    remaining = iter(range(requests))

    def worker():
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            began = time.perf_counter()
            try:
                http(url, body, {'Authorization': auth}, timeout=60)
                with lock:
                    latencies.append((time.perf_counter() - began) * 1000)
            except (urllib.error.URLError, OSError):
                with lock:
                    failures[0] += 1

    for _warm in range(5):
        http(url, body, {'Authorization': auth}, timeout=60)
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _worker in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies, failures[0]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float('nan')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--requests', type=int, default=300, help='chats per configuration (default 300)')
    parser.add_argument('--concurrency', type=int, default=8, help='chats at a time (default 8)')
    parser.add_argument('--tokens', type=int, default=20, help='answer length in tokens (default 20)')
    parser.add_argument('--keep', action='store_true', help='leave the deployment up')
    parser.add_argument(
        '--oneapi-image',
        default='',
        help='another one-api image for the nodes (default: the lab stand-in), e.g. a locally built upstream v0.6.6',
    )
    parser.add_argument(
        '--prefix', default='bench-scale', help='names of its containers and network (default bench-scale)'
    )
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix='bench-scale.')
    inv = inventory(workdir, args.prefix)
    if args.oneapi_image:
        with open(os.path.join(inv, 'group_vars', 'all', 'zz-bench.yml'), 'a', encoding='utf-8') as handle:
            handle.write('oneapi_image: %s\n' % json.dumps(args.oneapi_image))
    service_name = args.prefix.replace('-', '_') + '_svc'
    try:
        seconds = playbook(inv, 'tests/lab/playbooks/lab_up.yml')
        seconds += playbook(inv, 'playbooks/site.yml', '--tags', 'eas,oneapi')
        print('deploy (lab, then site.yml --tags eas,oneapi: two one-api nodes, no chatgpt-web)  %.1f s' % seconds)
        _status, _headers, data = http(
            'http://127.0.0.1:%d/api/v2/services/cn-hangzhou/%s' % (EMULATOR_PORT, service_name)
        )
        service = json.loads(data)
        direct = 'http://127.0.0.1:%d/api/predict/%s/v1/chat/completions' % (EMULATOR_PORT, service_name)
        key = oneapi_key(workdir)
        model = 'DeepSeek-R1-Distill-Qwen-1.5B'
        rows = [('EAS emulator, direct', direct, service['AccessToken'], model, None)]
        rows.append(
            (
                'one-api, one node (gw1 direct)',
                'http://127.0.0.1:%d/v1/chat/completions' % GW1_PORT,
                key,
                'gpt-4-32k',
                None,
            )
        )
        rows.append(
            (
                'balancer, one node (gw2 stopped)',
                'http://127.0.0.1:%d/v1/chat/completions' % BALANCER_PORT,
                key,
                'gpt-4-32k',
                'stop',
            )
        )
        rows.append(
            (
                'balancer, two nodes',
                'http://127.0.0.1:%d/v1/chat/completions' % BALANCER_PORT,
                key,
                'gpt-4-32k',
                'start',
            )
        )
        print(
            '%d chats per line, %d at a time, %d-token answers, non-streamed; latency in ms; added = minus the emulator'
            % (args.requests, args.concurrency, args.tokens)
        )
        print('one-api image: %s' % (args.oneapi_image or 'the lab stand-in (Python)'))
        print('%-34s %8s %8s %8s %10s %10s %6s' % ('', 'req/s', 'p50', 'p99', 'added p50', 'added p99', 'failed'))
        base = None
        for label, url, auth, name, action in rows:
            if action == 'stop':
                subprocess.run(
                    ['docker', 'stop', '-t', '1', args.prefix + '-gw2-one-api-1'], check=True, capture_output=True
                )
                time.sleep(6)  # the balancer's health checks take gw2 out (fall 2 x 2 s)
            elif action == 'start':
                subprocess.run(['docker', 'start', args.prefix + '-gw2-one-api-1'], check=True, capture_output=True)
                time.sleep(8)  # one-api starts, then rise 2 x 2 s
            rate, latencies, failed = load(url, auth, name, args.requests, args.concurrency, args.tokens)
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            if base is None:
                base = (p50, p99)
                added = ('-', '-')
            else:
                added = ('%.1f' % (p50 - base[0]), '%.1f' % (p99 - base[1]))
            print('%-34s %8.1f %8.1f %8.1f %10s %10s %6d' % (label, rate, p50, p99, added[0], added[1], failed))
    finally:
        if not args.keep:
            print('teardown (purge)  %.1f s' % playbook(inv, 'teardown.yml', '-e', 'purge=true'))
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print('kept: inventory %s' % inv)
    return 0


if __name__ == '__main__':
    sys.exit(main())
