# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure what the HTTPS front door adds to a streamed answer; print figures (no pass/fail thresholds).

    python scripts/benchmark_front_door.py [--runs 5] [--chunks 30] [--every 40] [--keep]

Deploys, under its own names and ports (a running `make demo` stack is left alone), one-api, chatgpt-web and the front
door with the collection's roles, behind them the lab's fake upstream streaming --chunks pieces --every ms apart
(`chunks:N every:MS`). Then, --runs times each, the same chat goes directly to chatgpt-web (plain HTTP on loopback)
and through the front door (HTTPS, internal CA, verified), and the same streamed API call directly to one-api and
through the front door. Printed side by side: time to the first chunk (a new connection each time, so the front door
column includes its TLS handshake; and on a kept-alive connection, as a browser has it), how many reads the answer
came in and over how long it was spread. The stack is removed at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = os.environ.get('LAB_IMAGE_PREFIX') or 'llmops-lab'
NETWORK = 'llmops-bench-fd'
UPSTREAM = 'bench-fd-upstream'
ONEAPI_PORT = 16011
CHATGPT_WEB_PORT = 16012
HTTPS_PORT = 16047
HTTP_PORT = 16084
SERVED = 'bench-served-model'
ALIAS = 'gpt-4-32k'

PLAY = """
- name: The stack under test (benchmark_front_door.py)
  hosts: localhost
  gather_facts: false
  tasks:
    - {name: one-api, ansible.builtin.include_role: {name: llmops.eas_stack.oneapi}}
    - {name: chatgpt-web, ansible.builtin.include_role: {name: llmops.eas_stack.chatgpt_web}}
    - {name: The front door, ansible.builtin.include_role: {name: llmops.eas_stack.front_door}}
    - name: Hand the outputs to the benchmark
      ansible.builtin.copy:
        dest: "{{ bench_outputs }}"
        mode: "0600"
        content: "{{ {'chat_url': front_door_chat_url, 'ca_path': front_door_ca_path, 'token': oneapi_token_key} | to_json }}"
      no_log: true

- name: Take it down
  hosts: localhost
  gather_facts: false
  tags: [never, absent]
  tasks:
    - {name: Front door, ansible.builtin.include_role: {name: llmops.eas_stack.front_door, tasks_from: absent}}
    - {name: chatgpt-web, ansible.builtin.include_role: {name: llmops.eas_stack.chatgpt_web, tasks_from: absent}}
    - {name: one-api, ansible.builtin.include_role: {name: llmops.eas_stack.oneapi, tasks_from: absent}}
"""


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)


def playbook(work, *args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'))
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    cmd = [binary, '-i', os.path.join(work, 'hosts.yml'), '-e', '@' + os.path.join(work, 'vars.json')]
    proc = run(cmd + [os.path.join(work, 'play.yml')] + list(args), cwd=ROOT, env=env)
    if proc.returncode:
        sys.stderr.write(proc.stdout[-6000:] + proc.stderr[-2000:])
        raise SystemExit('ansible-playbook %s failed (rc=%d)' % (' '.join(args), proc.returncode))


def nodelay(sock):
    # Without it, Nagle's algorithm holds a small write until the last one is acknowledged (up to the peer's 40 ms
    # delayed ACK): the figures would show the client's socket, not the front door. Browsers and curl set it too.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Resolved(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the URL's host name for SNI and the certificate (like curl --resolve)."""

    def connect(self):
        sock = nodelay(socket.create_connection(('127.0.0.1', self.port), self.timeout))
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Plain(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        nodelay(self.sock)


def connection(url, ca_path):
    parts = url.split('/')
    host, _sep, port = parts[2].partition(':')
    if url.startswith('https://'):
        return Resolved(host, int(port or 443), context=ssl.create_default_context(cafile=ca_path), timeout=60)
    return Plain('127.0.0.1', int(port or 80), timeout=60)


def stream(conn, path, headers, body):
    """One request on conn; (ms to the first byte of the body, number of reads, ms from the first to the last read)."""
    start = time.monotonic()
    conn.request('POST', path, body=json.dumps(body), headers=dict(headers, **{'Content-Type': 'application/json'}))
    resp = conn.getresponse()
    times = []
    while True:
        piece = resp.read1(65536)
        if not piece:
            break
        times.append((time.monotonic() - start) * 1000)
    if resp.status != 200 or not times:
        raise SystemExit('%s answered %s' % (path, resp.status))
    return times[0], len(times), times[-1] - times[0]


def measure(base, path, headers, body, ca_path, runs):
    fresh, kept = [], []
    for _run in range(runs):
        conn = connection(base, ca_path)
        fresh.append(stream(conn, path, headers, body))
        kept.append(stream(conn, path, headers, body))
        conn.close()
    return fresh, kept


def median(values, index):
    return statistics.median(v[index] for v in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--runs', type=int, default=5, help='requests per path (default 5)')
    parser.add_argument('--chunks', type=int, default=30, help='pieces the upstream streams (default 30)')
    parser.add_argument('--every', type=int, default=40, help='ms between pieces (default 40)')
    parser.add_argument('--keep', action='store_true', help='leave the stack running')
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix='llmops-bench-fd-')
    auth_key = 'bench-' + secrets.token_hex(16)
    upstream_key = 'bench-upstream-' + secrets.token_hex(8)
    outputs = os.path.join(work, 'outputs.json')
    with open(os.path.join(work, 'hosts.yml'), 'w', encoding='utf-8') as handle:
        handle.write(
            'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
            '      ansible_python_interpreter: %s\n' % json.dumps(sys.executable)
        )
    with open(os.path.join(work, 'play.yml'), 'w', encoding='utf-8') as handle:
        handle.write(PLAY)
    bench_vars = {
        'bench_outputs': outputs,
        'oneapi_image': PREFIX + '/one-api:v0.6.6-standin',
        'oneapi_pull': 'never',
        'oneapi_project_name': 'bench-fd-one-api',
        'oneapi_project_dir': os.path.join(work, 'one-api'),
        'oneapi_docker_network': NETWORK,
        'oneapi_port': ONEAPI_PORT,
        'oneapi_root_password': 'Bench-' + secrets.token_hex(6),
        'oneapi_channel_base_url': 'http://%s:8080' % UPSTREAM,
        'oneapi_channel_key': upstream_key,
        'oneapi_served_model_name': SERVED,
        'oneapi_test_channel': False,
        'oneapi_purge': True,
        'chatgpt_web_image': PREFIX + '/chatgpt-web:standin',
        'chatgpt_web_pull': 'never',
        'chatgpt_web_project_name': 'bench-fd-chatgpt-web',
        'chatgpt_web_project_dir': os.path.join(work, 'chatgpt-web'),
        'chatgpt_web_docker_network': NETWORK,
        'chatgpt_web_port': CHATGPT_WEB_PORT,
        'chatgpt_web_auth_secret_key': auth_key,
        'chatgpt_web_api_key': '{{ oneapi_token_key }}',
        'chatgpt_web_purge': True,
        'front_door_image': PREFIX + '/caddy:2.6-debian',
        'front_door_pull': 'never',
        'front_door_project_name': 'bench-fd-front-door',
        'front_door_project_dir': os.path.join(work, 'front-door'),
        'front_door_docker_network': NETWORK,
        'front_door_bind_address': '127.0.0.1',
        'front_door_https_port': HTTPS_PORT,
        'front_door_http_port': HTTP_PORT,
        'front_door_chat_domain': 'localhost',
        'front_door_tls': 'internal',
        'front_door_purge': True,
    }
    with open(os.path.join(work, 'vars.json'), 'w', encoding='utf-8') as handle:
        os.chmod(handle.name, 0o600)
        json.dump(bench_vars, handle)

    run(['docker', 'network', 'create', NETWORK])
    run(['docker', 'rm', '-f', UPSTREAM])
    started = run(
        [
            'docker',
            'run',
            '-d',
            '--name',
            UPSTREAM,
            '--network',
            NETWORK,
            '-e',
            'FAKE_OPENAI_KEY=' + upstream_key,
            '-e',
            'FAKE_OPENAI_MODEL=' + SERVED,
            PREFIX + '/fake-openai:latest',
        ]
    )
    if started.returncode:
        raise SystemExit('the fake upstream did not start: %s (build the lab images first)' % started.stderr.strip())
    try:
        seconds = time.monotonic()
        playbook(work)
        seconds = time.monotonic() - seconds
        with open(outputs, encoding='utf-8') as handle:
            out = json.load(handle)
        prompt = 'Stream it. chunks:%d every:%d' % (args.chunks, args.every)
        chat = ('/api/chat-process', {'Authorization': 'Bearer ' + auth_key}, {'prompt': prompt, 'options': {}})
        api = (
            '/v1/chat/completions',
            {'Authorization': 'Bearer ' + out['token']},
            {'model': ALIAS, 'stream': True, 'messages': [{'role': 'user', 'content': prompt}]},
        )
        rows = []
        for name, direct, path in (
            ('chat (chatgpt-web NDJSON)', 'http://127.0.0.1:%d' % CHATGPT_WEB_PORT, chat),
            ('API  (one-api SSE)       ', 'http://127.0.0.1:%d' % ONEAPI_PORT, api),
        ):
            d_fresh, d_kept = measure(direct, path[0], path[1], path[2], None, args.runs)
            f_fresh, f_kept = measure(out['chat_url'], path[0], path[1], path[2], out['ca_path'], args.runs)
            rows.append((name, d_fresh, d_kept, f_fresh, f_kept))
    finally:
        if not args.keep:
            playbook(work, '--tags', 'absent')
            run(['docker', 'rm', '-f', UPSTREAM])
            run(['docker', 'network', 'rm', NETWORK])
            shutil.rmtree(work, ignore_errors=True)

    print('llmops.eas_stack front door benchmark (%s)' % datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))
    print('  stack up (one-api, chatgpt-web, front door), s   %.1f' % seconds)
    print('  upstream: %d pieces %d ms apart; %d runs per path; medians' % (args.chunks, args.every, args.runs))
    print(
        '  %-26s %-15s %12s %12s %12s %8s %10s'
        % ('', 'path', 'first, new', 'first, kept', 'added, new', 'reads', 'spread')
    )
    for name, d_fresh, d_kept, f_fresh, f_kept in rows:
        for label, fresh, kept, base in (
            ('direct (http)', d_fresh, d_kept, None),
            ('front door', f_fresh, f_kept, d_fresh),
        ):
            added = '%+.1f ms' % (median(fresh, 0) - median(base, 0)) if base else ''
            print(
                '  %-26s %-15s %9.1f ms %9.1f ms %12s %8d %7.0f ms'
                % (
                    name,
                    label,
                    median(fresh, 0),
                    median(kept, 0),
                    added,
                    median(fresh + kept, 1),
                    median(fresh + kept, 2),
                )
            )
            name = ''
    print('  (first: ms from sending the request to the first chunk of the answer; new: a new connection, kept: the')
    print('   second request on it; reads: how many pieces the answer arrived in; spread: first to last read)')
    print(
        '  (direct, kept: the lab stand-ins write without TCP_NODELAY, so on a reused connection their first chunk waits'
    )
    print("   for the client's delayed ACK; the front door opens a new connection to them for each request)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
