# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Locks on the controller, shared by every run on this machine.

``exclusive(key, timeout)`` holds an ``fcntl`` lock on a file named after ``key`` for the duration of a ``with``
block. A process killed while holding it releases it (the kernel drops the lock with the process), and a process
left running by a killed ``ansible-playbook`` keeps it until it finishes: so a run started at once waits for the
orphan's create to end, then sees what it made. ``signals_held()`` makes a Ctrl-C or TERM of the run, which
ansible-playbook passes on to the module, wait for the end of a create in flight in the same way.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import signal
import tempfile
import time

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError


def lock_dir():
    path = os.environ.get('LLMOPS_LOCK_DIR') or os.path.join(tempfile.gettempdir(), 'llmops-eas_stack-locks')
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def lock_path(key):
    digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]
    return os.path.join(lock_dir(), '%s.lock' % digest)


@contextlib.contextmanager
def exclusive(key, timeout, what, sleep=time.sleep, clock=time.monotonic):
    """Hold the controller-wide lock ``key`` (waiting at most ``timeout`` seconds for another holder)."""
    path = lock_path(key)
    handle = open(path, 'a+', encoding='utf-8')  # pylint: disable=consider-using-with
    try:
        deadline = clock() + max(0, timeout)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if clock() >= deadline:
                    raise ModuleError(
                        'another run on this controller has been busy with %s for over %ss (lock %s); let it finish, '
                        'or stop it, and run again' % (what, timeout, path)
                    ) from None
                sleep(1.0)
        handle.seek(0)
        handle.truncate()
        handle.write('%d %s\n' % (os.getpid(), what))
        handle.flush()
        yield path
    finally:
        handle.close()


# What ends a run: Ctrl-C, a TERM (ansible-playbook passes both on to the module it runs), a closed terminal.
ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_held(signums=ENDING_SIGNALS):
    """Hold back the signals that end a run until the ``with`` block is done, then act on the first one.

    For a create that bills: cut off while its request is in flight, it may be carried out by the server all the
    same, and a run started at once would not see it yet and buy a second one. Held back, the signal ends the module
    once the answer is in, while ``exclusive`` still holds the controller lock, so the next run waits and finds it.
    """
    received = []
    previous = {}

    def hold(signum, _frame):
        received.append(signum)

    for signum in signums:
        try:
            previous[signum] = signal.signal(signum, hold)
        except ValueError:  # not the main thread: nothing can be held back here
            break
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            os.kill(os.getpid(), received[0])
