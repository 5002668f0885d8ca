# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chat streams and management writes through the balancer while one one-api node is stopped, then started again.

    python failover.py SETTINGS_JSON          prints a JSON report

Settings: balancer (URL), key (sk- token), access_token (root's, for the writes), model, workers, duration (s),
stop_after (s), container (the one-api container to stop), node (its name in the balancer), come_back (s to wait for
it to serve again). Bounded: every loop ends at ``duration`` or ``come_back``; loopback only.

A stream succeeds when it answers 200 and ends with ``data: [DONE]``. Requests are classified by when they started
relative to the stop: in flight (started before ``docker stop`` returned) or after it. The writer creates a token every
0.3 s through the balancer and keeps the ids one-api acknowledged; the report lists any of them missing afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(url, body=None, headers=None, method=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ('POST' if data else 'GET'))
    req.add_header('Content-Type', 'application/json')
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    return OPENER.open(req, timeout=timeout)


def stream_chat(settings, index):
    """One streamed chat: (ok, node, detail)."""
    body = {
        'model': settings['model'],
        'stream': True,
        'messages': [{'role': 'user', 'content': 'failover test %d tokens:40' % index}],
    }
    try:
        with request(
            settings['balancer'] + '/v1/chat/completions', body, {'Authorization': 'Bearer ' + settings['key']}
        ) as resp:
            node = resp.headers.get('X-Oneapi-Node', '')
            done = False
            for line in resp:
                if line.strip() == b'data: [DONE]':
                    done = True
            return done, node, 'complete' if done else 'stream ended without [DONE]'
    except urllib.error.HTTPError as exc:
        return False, exc.headers.get('X-Oneapi-Node', ''), 'HTTP %d' % exc.code
    except (OSError, ValueError) as exc:
        return False, '', type(exc).__name__ + ': ' + str(exc)[:80]


def main(path):
    with open(path, encoding='utf-8') as handle:
        settings = json.load(handle)
    results, writes, lock = [], {'acknowledged': [], 'failed': 0}, threading.Lock()
    start = time.monotonic()
    deadline = start + settings['duration']
    stopped = {'at': None, 'done': None}
    counter = iter(range(1_000_000))

    def chatter():
        while time.monotonic() < deadline:
            with lock:
                index = next(counter)
            began = time.monotonic()
            ok, node, detail = stream_chat(settings, index)
            with lock:
                results.append(
                    {'began': began - start, 'took': time.monotonic() - began, 'ok': ok, 'node': node, 'detail': detail}
                )

    def writer():
        number = 0
        while time.monotonic() < deadline:
            number += 1
            name = 'it-load-%03d' % number
            try:
                with request(
                    settings['balancer'] + '/api/token/',
                    {'name': name, 'unlimited_quota': True, 'expired_time': -1},
                    {'Authorization': settings['access_token']},
                    timeout=10,
                ) as resp:
                    answer = json.load(resp)
                if answer.get('success'):
                    writes['acknowledged'].append(answer['data']['id'])
                else:
                    writes['failed'] += 1
            except (OSError, ValueError):
                writes['failed'] += 1
            time.sleep(0.3)

    threads = [threading.Thread(target=chatter) for _worker in range(settings['workers'])] + [
        threading.Thread(target=writer)
    ]
    for thread in threads:
        thread.start()
    time.sleep(settings['stop_after'])
    stopped['at'] = time.monotonic() - start
    subprocess.run(['docker', 'stop', '-t', '1', settings['container']], check=True, capture_output=True)
    stopped['done'] = time.monotonic() - start
    for thread in threads:
        thread.join(timeout=settings['duration'] + 120)

    in_flight = [r for r in results if r['began'] < stopped['done'] and r['began'] + r['took'] > stopped['at']]
    after = [r for r in results if r['began'] >= stopped['done']]
    report = {
        'requests': len(results),
        'ok': sum(r['ok'] for r in results),
        'failed': [r for r in results if not r['ok']],
        'in_flight_at_stop': len(in_flight),
        'in_flight_failed': sum(not r['ok'] for r in in_flight),
        'after_stop': len(after),
        'after_stop_failed': sum(not r['ok'] for r in after),
        'after_stop_nodes': sorted({r['node'] for r in after}),
        'before_stop_nodes': sorted({r['node'] for r in results if r['began'] + r['took'] < stopped['at']}),
        'slowest_after_stop': round(max((r['took'] for r in after), default=0), 3),
        'stopped_at': round(stopped['at'], 3),
        'writes_acknowledged': len(writes['acknowledged']),
        'writes_failed': writes['failed'],
    }

    # every acknowledged write is in the database (read through the balancer, now served by the other node)
    with request(
        settings['balancer'] + '/api/token/search?keyword=it-load-', headers={'Authorization': settings['access_token']}
    ) as resp:
        stored = {t['id'] for t in json.load(resp)['data']}
    report['writes_missing'] = sorted(set(writes['acknowledged']) - stored)

    # the node comes back: started again, it answers through the balancer once its health checks pass
    subprocess.run(['docker', 'start', settings['container']], check=True, capture_output=True)
    back_deadline = time.monotonic() + settings['come_back']
    report['back_in'] = None
    began = time.monotonic()
    while time.monotonic() < back_deadline:
        ok, node, _detail = stream_chat(settings, 0)
        if ok and node == settings['node']:
            report['back_in'] = round(time.monotonic() - began, 1)
            break
        time.sleep(0.5)
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
