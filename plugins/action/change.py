# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.change runs here, on the controller: the one place a change (or a rollback) is applied, after it
checked the approval itself, at that moment (plugin_utils/_changes.py, docs/security.md)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _changes, _runctx


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("kind", "rollback", "interactive", "prompt_retries", "wait_retries", "language"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        kind = args.get("kind")
        if kind not in _changes.KINDS:
            lang = operator_language(args.get("language"))
            result.update(failed=True, msg=message(lang, "change.unknown_kind", kind=str(kind)[:60],
                                                   kinds=", ".join(sorted(_changes.KINDS))))
            return result
        rollback = str(args.get("rollback", False)).lower() in ("true", "yes", "1")
        out = _changes.run(self, task_vars, kind, rollback, args.get("interactive", "auto"),
                           int(args.get("prompt_retries") or 5), args.get("language"),
                           int(args.get("wait_retries") or 60))
        _runctx.attest(out, str((task_vars or {}).get("inventory_hostname") or "localhost"))
        result.update(out)
        return result
