# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Errors and retries shared by every module of the collection.

* ``ModuleError``: what a module reports with ``fail_json``: a message plus extra result keys. The API clients
  raise subclasses of it (``EASError``, ``OneApiError``), the waiters ``WaitError``.
* ``RetryPolicy``: bounded retries with jittered exponential backoff and a retry budget for one module run.
"""

from __future__ import annotations

import random
import time


class ModuleError(Exception):
    """A failure of a module: ``str(err)`` for the user, ``extra`` for the result (``fail_json(msg=..., **extra)``)."""

    def __init__(self, message, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra

    def note(self, text):
        """Append ``text`` to the message, for example why retrying stopped."""
        self.message = '%s (%s)' % (self.message, text)

    def __str__(self):
        return self.message


class RetryPolicy:
    """Bounded retries with jittered exponential backoff and a retry budget shared by one module run.

    Delay before retry n (1-based): ``d = min(max_delay, base_delay * factor ** (n - 1))``, slept as
    ``uniform(d / 2, d)`` ("equal jitter": never 0, never above the cap). A server hint (``retry_after_ms`` of the
    error, from a throttling reply) raises the floor to that hint, capped at ``max_delay``.
    """

    def __init__(self, max_retries=5, base_delay=1.0, factor=2.0, max_delay=20.0, budget=20, sleep=None, rand=None):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.factor = factor
        self.max_delay = max_delay
        self.budget = budget
        self.retries_used = 0
        self._sleep = sleep
        self._rand = rand or random.uniform

    def delay(self, attempt, hint_ms=None):
        cap = min(self.max_delay, self.base_delay * (self.factor ** (attempt - 1)))
        delay = self._rand(cap / 2.0, cap)
        if hint_ms:
            delay = max(delay, min(self.max_delay, hint_ms / 1000.0))
        return delay

    def sleep(self, seconds):
        (self._sleep if self._sleep is not None else time.sleep)(seconds)

    def run(self, func, should_retry):
        """Call ``func()``; when it raises a ``ModuleError`` for which ``should_retry(err)`` is true, wait and call again.

        Gives up (re-raising the last error, with a note saying why) after ``max_retries`` retries of this call or when
        the budget of the module run is spent.
        """
        attempt = 0
        while True:
            try:
                return func()
            except ModuleError as err:
                if not should_retry(err):
                    raise
                attempt += 1
                if attempt > self.max_retries:
                    if self.max_retries:
                        err.note('gave up after %d retries' % self.max_retries)
                    raise
                if self.retries_used >= self.budget:
                    err.note('retry budget of %d retries for this task exhausted' % self.budget)
                    raise
                self.retries_used += 1
                self.sleep(self.delay(attempt, getattr(err, 'retry_after_ms', None)))
