# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugin of llmops.eas_stack.eas_resource_group: its long waits show progress (plugin_utils/progress.py)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.llmops.eas_stack.plugins.plugin_utils.progress import run_in_windows


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        return run_in_windows(self, task_vars, default_timeout=1800)
