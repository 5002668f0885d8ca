# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook runs as a user starts them: each in its own process group, its output logged as it comes.

A run can be watched for a line (a task name), interrupted as Ctrl-C does (SIGINT to its process group) or killed
as ``kill -9`` does (SIGKILL to its process group). ansible-playbook's workers and the modules they run are in
sessions of their own: a SIGKILL ends ansible-playbook only, and the module it was running goes on, as it does for a
user. Every process started here carries ``RELIABILITY_MARK`` in its environment, so the suite can end the ones a
kill left behind (by their process ids) when it is done.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time


class SuiteError(Exception):
    """A check of the suite failed (the message says which and why)."""


def log(message):
    print('%s %s' % (time.strftime('%H:%M:%S'), message), flush=True)


# Credentials from the environment would hide the "no credentials" case; the suite's runs get none.
CLEARED_ENV = re.compile(r'^(ALIBABA_CLOUD_|ALICLOUD_)')


class Run:
    """One ansible-playbook process."""

    def __init__(self, argv, log_path, cwd, mark, env=None):
        self.argv = argv
        self.log_path = log_path
        self.lines = []
        self.cond = threading.Condition()
        self.done = False
        self.killed = None
        self.rc = None
        run_env = dict((k, v) for k, v in os.environ.items() if not CLEARED_ENV.match(k))
        run_env.update(ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', RELIABILITY_MARK=mark)
        run_env.update(env or {})
        self.started = time.time()
        # pylint: disable-next=consider-using-with
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with open(self.log_path, 'wb') as handle:
            for raw in self.proc.stdout:
                handle.write(raw)
                handle.flush()
                line = raw.decode('utf-8', 'replace').rstrip('\n')
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_line(self, pattern, timeout):
        """The first output line matching ``pattern`` (a regex), or None when the run ends or ``timeout`` passes."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                for line in self.lines[seen:]:
                    if regex.search(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self.done or remaining <= 0:
                    return None
                self.cond.wait(min(remaining, 1.0))

    def last_task(self):
        with self.cond:
            for line in reversed(self.lines):
                if line.startswith('TASK ['):
                    return line.rstrip('* ')
        return ''

    def kill(self, sig):
        """Signal the process group, as a terminal's Ctrl-C (SIGINT) or ``kill -9 -PGID`` (SIGKILL) does."""
        self.killed = (sig, time.time(), self.last_task())
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def finish(self, timeout):
        """Wait for the run to end (killing it after ``timeout`` seconds) and return its exit status."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.rc = self.proc.wait()
            self.reader.join(5)
            raise SuiteError('%s did not end within %d s (killed); log: %s' % (self.name, timeout, self.log_path))
        self.reader.join(10)
        return self.rc

    @property
    def name(self):
        return os.path.basename(self.log_path)

    @property
    def text(self):
        with self.cond:
            return '\n'.join(self.lines)

    def recap(self):
        """Totals of the PLAY RECAP (ok, changed, failed, unreachable), or None when there is none."""
        text = self.text
        if 'PLAY RECAP' not in text:
            return None
        totals = dict(ok=0, changed=0, failed=0, unreachable=0)
        for line in text.rsplit('PLAY RECAP', 1)[1].splitlines():
            for key in totals:
                match = re.search(r'\b%s=(\d+)' % key, line)
                if match:
                    totals[key] += int(match.group(1))
        return totals

    def tail(self, count=40):
        with self.cond:
            return '\n'.join(self.lines[-count:])


def marked_processes(mark):
    """Process ids whose environment holds RELIABILITY_MARK=mark (this suite's runs and what they left running)."""
    needle = ('RELIABILITY_MARK=%s' % mark).encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as handle:
                if needle in handle.read().split(b'\0'):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def end_marked_processes(mark):
    """SIGKILL, by process id, what this suite started and is still running; returns how many."""
    pids = marked_processes(mark)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)
