# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of llmops.eas_stack.run_lock: a lock held by the running ansible-playbook process."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.llmops.eas_stack.plugins.module_utils.locks import exclusive, lock_path


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


class ActionModule(ActionBase):
    _VALID_ARGS = frozenset(('name', 'purpose', 'state'))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        # Reading and writing the holder is one step for every run on the controller.
        with exclusive('run-lock %s' % self._task.args['name'], 30, 'taking the run lock'):
            return self._run(result)

    def _run(self, result):
        args = self._task.args
        path = lock_path('run %s' % args['name'])
        # The workers are forked from the ansible-playbook process: its pid is the run's identity.
        me = dict(
            pid=os.getppid(),
            purpose=args.get('purpose', 'ansible-playbook'),
            started=time.strftime('%Y-%m-%d %H:%M:%S'),
        )
        holder = _read(path)
        if args.get('state', 'present') == 'absent':
            if holder and holder.get('pid') == me['pid']:
                os.unlink(path)
                result['changed'] = False
            result['holder'] = {}
            return result
        if holder and holder.get('pid') != me['pid'] and _alive(int(holder.get('pid', 0))):
            result.update(
                failed=True,
                holder=holder,
                msg=(
                    '%s is running on this deployment (%s) since %s (process %s): wait for it to finish (or stop it), then '
                    'run again' % (holder.get('purpose'), args['name'], holder.get('started'), holder.get('pid'))
                ),
            )
            return result
        if holder and holder.get('pid') != me['pid']:
            result.setdefault('warnings', []).append(
                'taking over the lock of %s (process %s), which ended without releasing it'
                % (holder.get('purpose'), holder.get('pid'))
            )
        if not holder or holder.get('pid') != me['pid']:
            tmp_path = '%s.%d' % (path, os.getpid())
            with open(tmp_path, 'w', encoding='utf-8') as handle:
                json.dump(me, handle)
            os.replace(tmp_path, path)
            holder = me
        result.update(changed=False, holder=holder)
        return result
