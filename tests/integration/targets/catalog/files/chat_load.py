# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A steady chat load through one-api, for the blue/green tests and the catalog benchmark.

    python3 chat_load.py URL KEY ALIAS RATE STOP_FILE OUT_JSON [MAX_SECONDS]

Sends RATE chat requests per second (non-streaming, each on its own thread so a slow answer does not slow the rate)
for ALIAS with the sk- key KEY to URL/v1/chat/completions, until STOP_FILE exists (or MAX_SECONDS pass), then writes
OUT_JSON: sent, ok, failed, the answering models with their counts, the first failures, and the time span.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ask(url, key, alias, results, lock):
    body = json.dumps({'model': alias, 'messages': [{'role': 'user', 'content': 'Say hello.'}]}).encode()
    request = urllib.request.Request(
        url.rstrip('/') + '/v1/chat/completions',
        data=body,
        headers={'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json'},
        method='POST',
    )
    started = time.time()
    try:
        with OPENER.open(request, timeout=60) as response:
            answer = json.loads(response.read().decode())
            outcome = ('ok', answer.get('model'), started, None)
    except urllib.error.HTTPError as err:
        outcome = ('failed', None, started, 'HTTP %s %s' % (err.code, err.read().decode(errors='replace')[:200]))
    except (OSError, ValueError) as err:
        outcome = ('failed', None, started, str(err)[:200])
    with lock:
        results.append(outcome)


def main(argv):
    url, key, alias, rate, stop_file, out = argv[:6]
    max_seconds = float(argv[6]) if len(argv) > 6 else 900.0
    interval = 1.0 / float(rate)
    results, lock, threads = [], threading.Lock(), []
    start = time.time()
    next_at = start
    while not os.path.exists(stop_file) and time.time() - start < max_seconds:
        thread = threading.Thread(target=ask, args=(url, key, alias, results, lock), daemon=True)
        thread.start()
        threads.append(thread)
        next_at += interval
        time.sleep(max(0.0, next_at - time.time()))
    for thread in threads:
        thread.join(70)
    models = collections.Counter(model for status, model, _t, _e in results if status == 'ok')
    failures = sorted((t, error) for status, _m, t, error in results if status == 'failed')
    summary = dict(
        sent=len(results),
        ok=sum(1 for r in results if r[0] == 'ok'),
        failed=len(failures),
        models=dict(models),
        first_failures=[dict(time=t, error=e) for t, e in failures[:5]],
        seconds=round(time.time() - start, 1),
        rate=float(rate),
    )
    with open(out, 'w', encoding='utf-8') as handle:
        json.dump(summary, handle)
    print(json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
