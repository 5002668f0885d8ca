# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the reliability suite: ``python -m reliability_suite --collection DIR --work DIR``.

RELIABILITY_TRACKS (default AKI) picks the tracks; RELIABILITY_KILLS (default all) the kill cases, by id (k1,k3);
RELIABILITY_INPUTS the wrong inputs (core by default, all, or ids); RELIABILITY_KEEP=1 leaves containers and files behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid

from .lab import containers, docker
from .runs import SuiteError, end_marked_processes, log
from .tracks import KILL_CASES, Suite, input_cases, track_a, track_i, track_k


def selected(env, items, default='all'):
    wanted = os.environ.get(env, default)
    if wanted == 'all':
        return items
    if wanted == 'core':
        return [i for i in items if not i.get('extra')]
    ids = set(wanted.split(','))
    return [i for i in items if i['id'] in ids]


def run_track(suite, name, func, *args):
    try:
        func(suite, *args)
    except SuiteError as err:
        suite.check(name, False, 'stopped: %s' % err)
    except Exception:  # pylint: disable=broad-exception-caught
        suite.check(name, False, 'crashed:\n%s' % traceback.format_exc())


def cleanup(suite):
    left = end_marked_processes(suite.mark)
    if left:
        log('ended %d process(es) the suite had left running' % left)
    ids = containers('it-rel-')
    if ids:
        docker('rm', '-f', '-v', *ids)
    for key in ('a', 'ka', 'kb', 'in'):
        docker('network', 'rm', 'it-rel-%s-net' % key)
    if suite.failures:
        kept = tempfile.mkdtemp(prefix='it-rel-logs-')
        shutil.copytree(os.path.join(suite.work, 'logs'), os.path.join(kept, 'logs'))
        log('the logs of the runs are kept in %s/logs' % kept)
    shutil.rmtree(suite.work, ignore_errors=True)


def report(suite, took):
    f = suite.figures
    rows = []
    if 'faults' in f:
        rows.append(
            (
                'Injected EAS API faults (30 % throttling/503) during a cold run',
                '%(injected)d of %(calls)d calls faulted; converged in %(runs)d run(s), rerun changed=0, no duplicate'
                % f['faults'],
            )
        )
    if 'kills' in f:
        rows.append(('Kills of cold runs (SIGINT, SIGKILL) survived / tried', '%(survived)d / %(tried)d' % f['kills']))
    if 'outage' in f:
        rows.append(
            (
                'EAS API outage survived mid-wait',
                '%d s (%s), the run said "did not answer for %d s"'
                % (
                    f['outage']['seconds'],
                    ' then '.join('%s %d s' % p for p in f['outage']['phases']),
                    f['outage']['said'],
                ),
            )
        )
    if 'inputs' in f:
        rows.append(('Wrong inputs refused before any write / tried', '%(refused)d / %(tried)d' % f['inputs']))
    if 'secrets' in f:
        rows.append(('Secrets found in -vvv output', '%(found)d (%(kinds)d secrets, %(logs)d logs)' % f['secrets']))
    if 'secret_files' in f:
        rows.append(('Secret files readable by others', '%(exposed)d of %(files)d' % f['secret_files']))
    if 'binds' in f:
        rows.append(('Public binds found', '%(public)d of %(published)d published ports' % f['binds']))
    if 'initial_password' in f:
        rows.append(
            (
                "one-api's root/123456 accepted on a published port",
                '%(accepted)d of %(tries)d tries' % f['initial_password'],
            )
        )
    print('\n=== reliability figures (%d s)' % took)
    print('| what | result |\n|---|---|')
    for what, result in rows:
        print('| %s | %s |' % (what, result))
    print('\n%d check(s) failed' % len(suite.failures))
    for failure in suite.failures:
        print('FAILED: %s' % failure.splitlines()[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--collection', required=True)
    parser.add_argument('--work', required=True)
    args = parser.parse_args()
    suite = Suite(os.path.abspath(args.collection), os.path.abspath(args.work), uuid.uuid4().hex)
    tracks = os.environ.get('RELIABILITY_TRACKS', 'AKI')
    plan = []
    if 'A' in tracks:
        plan.append(('A', track_a, ()))
    if 'K' in tracks:
        plan.append(('K', track_k, (selected('RELIABILITY_KILLS', KILL_CASES),)))
    if 'I' in tracks:
        plan.append(('I', track_i, (selected('RELIABILITY_INPUTS', input_cases(), 'core'),)))
    began = time.time()
    threads = [
        threading.Thread(target=run_track, args=(suite, name, func) + extra, name=name) for name, func, extra in plan
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if os.environ.get('RELIABILITY_KEEP') != '1':
            cleanup(suite)
    report(suite, time.time() - began)
    return 1 if suite.failures else 0


if __name__ == '__main__':
    sys.exit(main())
