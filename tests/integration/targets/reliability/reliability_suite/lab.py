# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the suite reads and checks: the EAS emulator's API, one-api's API, published ports, files and logs."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import threading
import time

from .runs import SuiteError


def http_call(port, method, path, body=None, headers=None, timeout=15):
    """(status, headers, body bytes) of one request to 127.0.0.1:port; raises OSError when nothing answers."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = dict(headers or {})
        if data is not None:
            all_headers['Content-Type'] = 'application/json'
        conn.request(method, path, data, all_headers)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    except http.client.HTTPException as err:
        raise OSError('HTTP error from 127.0.0.1:%s%s: %s' % (port, path, err)) from err
    finally:
        conn.close()


def as_json(data):
    try:
        return json.loads(data.decode('utf-8', 'replace')) if data else None
    except ValueError:
        return None


class Emulator:
    """The lab's EAS emulator on a published port: its /_lab control endpoints and unsigned API reads."""

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None):
        status, _headers, data = http_call(self.port, method, path, body)
        doc = as_json(data)
        if status != 200:
            raise SuiteError('emulator %s %s answered %s: %s' % (method, path, status, data[:300]))
        return doc

    def wait_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call('GET', '/_lab/health')
            except (OSError, SuiteError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def seq(self):
        return self.call('GET', '/_lab/requests/summary')['next']

    def summary(self, since):
        return self.call('GET', '/_lab/requests/summary?since=%d' % since)

    def requests(self, since=0):
        return self.call('GET', '/_lab/requests?since=%d' % since)['requests']

    def faults(self, config=None):
        if config is None:
            return self.call('GET', '/_lab/faults')['faults']
        return self.call('POST', '/_lab/faults', config)

    def outage(self, seconds, mode):
        return self.call('POST', '/_lab/outage', dict(seconds=seconds, mode=mode))

    def config(self, settings=None):
        if settings is None:
            return self.call('GET', '/_lab/config')
        return self.call('POST', '/_lab/config', settings)

    def billing(self):
        return self.call('GET', '/_lab/billing')

    def groups(self, name):
        doc = self.call('GET', '/api/v2/resources?PageSize=100')
        return [r for r in doc.get('Resources') or [] if r.get('ResourceName') == name]

    def services(self, name):
        doc = self.call('GET', '/api/v2/services?PageSize=100')
        return [s for s in doc.get('Services') or [] if s.get('ServiceName') == name]

    def billed_nodes(self, group_name):
        return sum(g['billed_nodes'] for g in self.billing()['groups'] if g['ResourceName'] == group_name)


class OneApi:
    """one-api's management API on its published port.

    one-api limits logins to 20 in 20 minutes per client address and takes the address from X-Forwarded-For (gin
    trusts every proxy by default): the suite's own calls send an address of their own, so that they never use up
    the budget of the deployment's runs, which come from this host.
    """

    def __init__(self, port, client_address):
        self.port = port
        self.client_address = client_address
        self.cookie = None

    def call(self, method, path, body=None):
        headers = {'X-Forwarded-For': self.client_address}
        if self.cookie:
            headers['Cookie'] = self.cookie
        status, resp_headers, data = http_call(self.port, method, path, body, headers)
        for key, value in resp_headers:
            if key.lower() == 'set-cookie' and value.startswith('session='):
                self.cookie = value.split(';', 1)[0]
        return status, as_json(data)

    def login(self, username, password):
        """True when one-api accepts the login (its answer says success)."""
        _status, doc = self.call('POST', '/api/user/login', dict(username=username, password=password))
        return bool(isinstance(doc, dict) and doc.get('success'))

    def data(self, path):
        status, doc = self.call('GET', path)
        if status != 200 or not isinstance(doc, dict) or not doc.get('success'):
            raise SuiteError('one-api GET %s failed: %s %s' % (path, status, doc))
        return doc.get('data')


class InitialPasswordProbe(threading.Thread):
    """Tries one-api's initial root/123456 on a published port for as long as it runs.

    It connects every 0.25 s; whenever the port accepts, it tries the login (at most once a second, each try from a
    new X-Forwarded-For address, so one-api's login limit never blocks it). ``accepted`` must stay 0.
    """

    def __init__(self, port, prefix):
        """prefix: the first two octets of the addresses the tries come from, e.g. 10.77."""
        super().__init__(daemon=True)
        if prefix.count('.') != 1:
            raise ValueError('prefix must be two octets: %s' % prefix)
        self.port = port
        self.prefix = prefix
        self.stop = threading.Event()
        self.tries = 0
        self.answered = 0
        self.accepted = 0
        self.limited = 0
        self.lock = threading.Lock()

    def try_once(self):
        """'accepted', 'refused' or 'no answer'."""
        with self.lock:
            self.tries += 1
            address = '%s.%d.%d' % (self.prefix, self.tries // 250, self.tries % 250 + 1)
        try:
            api = OneApi(self.port, address)
            status, doc = api.call('POST', '/api/user/login', dict(username='root', password='123456'))
        except OSError:
            return 'no answer'
        if status == 429:
            with self.lock:
                self.limited += 1
        if not isinstance(doc, dict):
            return 'no answer'
        with self.lock:
            self.answered += 1
            if doc.get('success'):
                self.accepted += 1
                return 'accepted'
        return 'refused'

    def port_open(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.3):
                return True
        except OSError:
            return False

    def run(self):
        last = 0.0
        while not self.stop.is_set():
            if self.port_open() and time.monotonic() - last >= 1.0:
                last = time.monotonic()
                self.try_once()
            self.stop.wait(0.25)

    def figures(self):
        with self.lock:
            return dict(tries=self.tries, answered=self.answered, accepted=self.accepted, limited=self.limited)


def docker(*args):
    result = subprocess.run(['docker'] + list(args), capture_output=True, text=True, check=False)
    return result.returncode, result.stdout


def containers(name_prefix):
    """Ids of the containers (running or not) whose name starts with name_prefix."""
    _rc, out = docker('ps', '-a', '--filter', 'name=^%s' % name_prefix, '--format', '{{.ID}} {{.Names}}')
    return [line.split()[0] for line in out.splitlines() if line.split()[1].startswith(name_prefix)]


def container_states(name_prefix):
    """{name: (id, StartedAt, Running)} of the containers whose name starts with name_prefix."""
    ids = containers(name_prefix)
    if not ids:
        return {}
    _rc, out = docker('inspect', *ids)
    return dict(
        (c['Name'].lstrip('/'), (c['Id'], c['State']['StartedAt'], c['State']['Running'])) for c in json.loads(out)
    )


def published_bindings(name_prefix):
    """[(container, container port, host address, host port)] of every published port of those containers."""
    ids = containers(name_prefix)
    if not ids:
        return []
    _rc, out = docker('inspect', *ids)
    found = []
    for cont in json.loads(out):
        for cport, binds in (cont['NetworkSettings'].get('Ports') or {}).items():
            for bind in binds or []:
                found.append((cont['Name'].lstrip('/'), cport, bind.get('HostIp'), int(bind.get('HostPort'))))
    return found


def _hex_address(hexaddr):
    if len(hexaddr) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hexaddr)[::-1])
    raw = bytes.fromhex(hexaddr)
    return socket.inet_ntop(socket.AF_INET6, b''.join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def listeners(ports):
    """[(address, port)] of the TCP sockets listening on this host on one of ``ports`` (from /proc/net/tcp*)."""
    found = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table, encoding='ascii') as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != '0A':  # LISTEN
                continue
            hexaddr, hexport = fields[1].split(':')
            port = int(hexport, 16)
            if port in ports:
                found.append((_hex_address(hexaddr), port))
    return found


LOOPBACK = ('127.0.0.1', '::1')


def files_with_secrets(root, secrets, skip=()):
    """[(path, mode, exposed)] of the files under root holding one of secrets; exposed: others can read it.

    A file is exposed when it is readable by others and every directory from root down to it lets others in
    (root stands for a directory anyone may enter, as /opt/llmops is).
    """
    needles = [s.encode() for s in secrets if s]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in skip]
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > 50 * 1024 * 1024:
                continue
            with open(path, 'rb') as handle:
                content = handle.read()
            if not any(n in content for n in needles):
                continue
            exposed = bool(info.st_mode & stat.S_IROTH)
            parent = os.path.dirname(path)
            while exposed and os.path.commonpath([parent, root]) == root and parent != root:
                exposed = bool(os.stat(parent).st_mode & stat.S_IXOTH)
                parent = os.path.dirname(parent)
            found.append((path, stat.S_IMODE(info.st_mode), exposed))
    return found


def secrets_in(paths, secrets):
    """{secret name: [log file names]} for every secret (a dict name -> value) found in the files."""
    found = {}
    for path in paths:
        with open(path, 'rb') as handle:
            content = handle.read()
        for name, value in secrets.items():
            if value and value.encode() in content:
                found.setdefault(name, []).append(os.path.basename(path))
    return found
