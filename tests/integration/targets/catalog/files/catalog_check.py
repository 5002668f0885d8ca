# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the catalog target against the lab (the EAS emulator's request log and billing, one-api's relay).

catalog_check.py EMULATOR next                         the request log's position
catalog_check.py EMULATOR no-writes SINCE              no mutating EAS request since SINCE
catalog_check.py EMULATOR handover OLD NEW SINCE       OLD got no request after NEW took over, before its deletion
catalog_check.py EMULATOR overlap OLD_GROUP NEW_GROUP SINCE
                                                       both groups' nodes billed only together during the overlap
catalog_check.py EMULATOR billing GROUP=NODES...       the nodes billed now, per group (and no other group)
catalog_check.py EMULATOR services NAME...             exactly these services exist
catalog_check.py ONEAPI key PASSWORD_FILE              print the first sk- token of root (one login)
catalog_check.py ONEAPI answers KEY ALIAS=MODEL...     each alias answers from its served model
catalog_check.py DB channels NAME...                   one-api's database holds exactly these channels
"""

from __future__ import annotations

import json
import sqlite3
import sys
import urllib.error
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url, body=None, headers=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header('Content-Type', 'application/json')
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors='replace'), err.headers


def requests(emulator, since=0):
    return json.loads(call('%s/_lab/requests?since=%d' % (emulator, int(since)))[1])['requests']


def fail(message):
    print('FAIL: ' + message, file=sys.stderr)
    sys.exit(1)


def no_writes(emulator, since):
    writes = [
        '%s %s' % (r['method'], r.get('action') or r['path'])
        for r in requests(emulator, since)
        if r['plane'] == 'control' and r['method'] in ('POST', 'PUT', 'DELETE')
    ]
    if writes:
        fail('mutating EAS requests were sent: %s' % writes)
    print('no mutating EAS request (%d read(s))' % len(requests(emulator, since)))


def handover(emulator, old, new, since):
    log = requests(emulator, since)

    def data(name):
        return [r for r in log if r['plane'] == 'data' and r['path'].startswith('/api/predict/%s/' % name)]

    deleted = [r for r in log if r.get('action') == 'DeleteService' and r['path'].endswith('/' + old)]
    old_requests, new_requests = data(old), data(new)
    if not deleted or not old_requests or not new_requests:
        fail(
            'expected requests to %s and %s and the deletion of %s: %d, %d, %d'
            % (old, new, old, len(old_requests), len(new_requests), len(deleted))
        )
    # The new generation may answer one-api's channel test with 503 while it warms up; the old one never fails.
    failed = [r for r in old_requests if r['status'] >= 400]
    last_old, delete = old_requests[-1], deleted[0]
    # From the first answer of the new generation to a chat (not the channel test) on, the old one gets nothing.
    new_chats = [r for r in new_requests if r['seq'] > last_old['seq']]
    if last_old['seq'] > delete['seq'] or not new_chats:
        fail('%s received requests after %s took over or after its deletion' % (old, new))
    if failed:
        fail('failed data-plane requests: %s' % [(r['path'], r['status']) for r in failed])
    print(
        json.dumps(
            dict(
                old_requests=len(old_requests),
                new_requests=len(new_requests),
                old_last_request_seq=last_old['seq'],
                old_delete_seq=delete['seq'],
                quiet_seconds_before_delete=round(delete['ts'] - last_old['ts'], 2),
            )
        )
    )


def overlap(emulator, old_group, new_group, since):
    status, body, _headers = call('%s/_lab/billing/usage?since=%s' % (emulator, since))
    if status != 200:
        fail('the emulator has no node-time report (HTTP %s): build the lab images from this tree' % status)
    usage = json.loads(body)
    nodes = dict((n['ResourceName'], n) for n in usage['nodes'])
    old, new = nodes.get(old_group), nodes.get(new_group)
    if not old or not new or old['end'] is None:
        fail('expected a deleted node of %s and a node of %s: %s' % (old_group, new_group, usage['nodes']))
    both = max(0.0, old['end'] - max(new['start'], old['start']))
    print(
        json.dumps(
            dict(
                overlap_seconds=round(both, 2),
                old_node_seconds=old['billed_seconds'],
                new_started_before_old_ended=new['start'] < old['end'],
            )
        )
    )


def billing(emulator, expected):
    groups = json.loads(call(emulator + '/_lab/billing')[1])['groups']
    now = dict((g['ResourceName'], g['billed_nodes']) for g in groups if g['billed_nodes'])
    want = dict((k, int(v)) for k, v in (item.split('=') for item in expected))
    if now != want:
        fail('billed nodes %s, expected %s' % (now, want))
    print('billed nodes: %s' % now)


def services(emulator, names):
    groups = json.loads(call(emulator + '/_lab/billing')[1])
    found = sorted(s for g in groups['groups'] for s in g['services']) + sorted(
        s['ServiceName'] for s in groups['public_services']
    )
    if found != sorted(names):
        fail('services %s, expected %s' % (found, sorted(names)))
    print('services: %s' % found)


def key(oneapi, password_file):
    with open(password_file, encoding='utf-8') as handle:
        password = handle.read().strip()
    status, _body, headers = call(oneapi + '/api/user/login', {'username': 'root', 'password': password})
    cookie = (headers.get('Set-Cookie') or '').split(';')[0]
    if status != 200 or not cookie:
        fail('login to one-api failed (HTTP %s)' % status)
    tokens = json.loads(call(oneapi + '/api/token/?p=0', headers={'Cookie': cookie})[1])['data']
    print(tokens[-1]['key'] if tokens[-1]['key'].startswith('sk-') else 'sk-' + tokens[-1]['key'])


def answers(oneapi, sk, pairs):
    for pair in pairs:
        alias, model = pair.split('=', 1)
        status, body, _headers = call(
            oneapi + '/v1/chat/completions',
            {'model': alias, 'messages': [{'role': 'user', 'content': 'Which model are you?'}]},
            {'Authorization': 'Bearer ' + sk},
        )
        answered = json.loads(body).get('model') if status == 200 else 'HTTP %s %s' % (status, body[:200])
        if answered != model:
            fail('alias %s answered from %s, expected %s' % (alias, answered, model))
        print('%s -> %s' % (alias, answered))


def channels(database, names):
    with sqlite3.connect(database) as db:
        found = sorted(row[0] for row in db.execute('SELECT name FROM channels'))
    if found != sorted(names):
        fail('one-api channels %s, expected %s' % (found, sorted(names)))
    print('one-api channels: %s' % found)


def main(argv):
    where, what, args = argv[0], argv[1], argv[2:]
    if what == 'next':
        print(json.loads(call(where + '/_lab/requests?since=0')[1])['next'])
    elif what == 'no-writes':
        no_writes(where, args[0])
    elif what == 'handover':
        handover(where, args[0], args[1], args[2])
    elif what == 'overlap':
        overlap(where, args[0], args[1], args[2])
    elif what == 'billing':
        billing(where, args)
    elif what == 'services':
        services(where, args)
    elif what == 'key':
        key(where, args[0])
    elif what == 'answers':
        answers(where, args[0], args[1:])
    elif what == 'channels':
        channels(where, args)
    else:
        fail('unknown check %s' % what)


if __name__ == '__main__':
    main(sys.argv[1:])
