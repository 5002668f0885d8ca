# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one pattern every module of the collection follows.

A module is a ``ModuleRunner`` subclass with its own ``options`` and a ``run()`` that reads, compares and calls
``self.do(action, func, ...)`` for every change. The base gives it:

* the argument spec: the connection options of its API (``EASRunner``, ``OneApiRunner``) plus its own;
* ``self.client``, built on first use;
* check mode: ``do()`` records the action and skips the call (and the clients refuse writes in check mode);
* one result shape: ``changed`` (any action, unless ``run()`` says otherwise), ``actions`` (what was done, or would
  be in check mode), ``diff`` (``self.before`` / ``self.after``, only with ``--diff``), plus what ``run()`` returns;
* one failure path: any ``ModuleError`` becomes ``fail_json`` with its message, ``actions`` and its extra keys;
  values in ``self.secrets`` are masked in a failure (a successful result may return them, and the task sets
  ``no_log``).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError


class ModuleRunner:
    """Base of every module. Subclasses set ``options`` and implement ``run()``."""

    #: the module's own options; an entry set to None removes a connection option the module does not take
    options = {}
    #: further AnsibleModule keyword arguments (mutually_exclusive, required_if, ...)
    module_kwargs = {}

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.actions = []
        self.before = None
        self.after = None
        self.secrets = set()
        self._client = None

    # -- what subclasses provide ------------------------------------------------------------------------------------
    @classmethod
    def connection_options(cls):
        """The options of the API connection (added before the module's own)."""
        return {}

    def make_client(self):
        raise NotImplementedError

    def run(self):
        """Do the work; return the module-specific result keys. Raise ModuleError to fail."""
        raise NotImplementedError

    # -- what the base provides -------------------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def do(self, action, func=None, *args, **kwargs):
        """Record ``action``; call ``func(*args, **kwargs)`` unless in check mode (then return None)."""
        self.actions.append(action)
        if self.check_mode or func is None:
            return None
        return func(*args, **kwargs)

    def diff(self, before, after):
        self.before, self.after = before, after

    def warn(self, text):
        self.module.warn(text)

    @classmethod
    def argument_spec(cls):
        spec = cls.connection_options()
        for name, option in cls.options.items():
            if option is None:
                spec.pop(name, None)
            else:
                spec[name] = option
        return spec

    @classmethod
    def main(cls):
        module = AnsibleModule(argument_spec=cls.argument_spec(), supports_check_mode=True, **cls.module_kwargs)
        runner = cls(module)
        try:
            result = runner.run() or {}
        except ModuleError as err:
            module.no_log_values.update(value for value in runner.secrets if value)
            module.fail_json(msg=str(err), actions=runner.actions, **err.extra)
        result.setdefault('changed', bool(runner.actions))
        result['actions'] = runner.actions
        if module._diff and (runner.before is not None or runner.after is not None):
            result['diff'] = dict(before=runner.before or {}, after=runner.after or {})
        module.exit_json(**result)
