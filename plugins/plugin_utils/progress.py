# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Long waits in windows, with a progress line after each one (the action plugins of the EAS modules).

A module that supports ``wait_window`` returns ``waiting=true`` with a ``progress`` line and a ``wait_state`` when a
window ends before its wait does. The action runs the module again with that state until the wait ends, printing the
progress line each time (every ``LLMOPS_PROGRESS_INTERVAL`` seconds, default 30), and returns one result: the last
one, with the ``actions``, ``changed`` and ``diff`` of all windows. Check mode and ``wait: false`` run the module once.
"""

from __future__ import annotations

import os
import time

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.display import Display

display = Display()
PROGRESS_INTERVAL = 30


def interval():
    try:
        return max(1, int(os.environ.get('LLMOPS_PROGRESS_INTERVAL', PROGRESS_INTERVAL)))
    except ValueError:
        return PROGRESS_INTERVAL


def run_in_windows(action, task_vars, default_timeout):
    args = dict(action._task.args)
    if (
        action._task.check_mode
        or not boolean(args.get('wait', True), strict=False)
        or int(args.get('wait_window') or 0)
    ):
        return action._execute_module(task_vars=task_vars)
    timeout = int(args.get('wait_timeout') or default_timeout)
    step = interval()
    host = (task_vars or {}).get('inventory_hostname', '')
    started = time.monotonic()
    actions, changed, diff, state = [], False, None, None
    while True:
        remaining = max(1, int(round(timeout - (time.monotonic() - started))))
        module_args = dict(args, wait_timeout=remaining, wait_window=step if remaining > step + 5 else 0)
        if state is not None:
            module_args['wait_state'] = state
        result = action._execute_module(module_args=module_args, task_vars=task_vars)
        actions.extend(result.get('actions') or [])
        changed = changed or bool(result.get('changed'))
        diff = diff or result.get('diff')
        if result.get('waiting') and not result.get('failed'):
            display.display(
                '[%s] waiting: %s (%d s of %d s)' % (host, result.get('progress'), time.monotonic() - started, timeout)
            )
            state = result.get('wait_state') or {}
            continue
        result = dict(result, actions=actions, changed=changed or bool(result.get('changed')))
        if diff and 'diff' not in result:
            result['diff'] = diff
        return result
