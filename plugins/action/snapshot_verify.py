# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.snapshot_verify: the files are re-hashed where the snapshot is; the verdict is kept only for the
snapshot asked about, compared with the manifest the controller expects (plugin_utils/_observe.py)."""

from __future__ import annotations

import os

from ansible_collections.ssot.governance.plugins.module_utils._text import message
from ansible_collections.ssot.governance.plugins.plugin_utils import _gate, _verified
from ansible_collections.ssot.governance.plugins.plugin_utils._observe import SnapshotVerdict


class ActionModule(SnapshotVerdict):

    MODULE = "ssot.governance.snapshot_verify"

    def module_args(self, args, task_vars, lang):
        """With ``workspace``, the manifest sha256 is the one a trusted (sealed) journal line recorded when the
        snapshot was taken - read here, on the controller; the module never reads the workspace. A value the task
        gives that differs from it fails the verification."""
        workspace = args.pop("workspace", None)
        if not workspace:
            return args
        ctx = _gate.Context(self, task_vars, args.get("language"))
        journal = _verified.Journal(ctx.workspace, ctx.rules, ctx.lang)
        recorded = journal.manifest(os.path.normpath(str(args.get("path") or "")).rstrip("/"))
        given = args.get("manifest_sha256")
        if recorded and given and given != recorded:
            raise _gate.Refused(message(ctx.lang, "snapshot.verify.not_recorded", path=args.get("path"),
                                        given=given, recorded=recorded))
        if recorded:
            args["manifest_sha256"] = recorded
        elif not given:
            self._display.warning(message(ctx.lang, "snapshot.verify.no_record", workspace=ctx.workspace,
                                          path=args.get("path")) + (" " + message(
                                              ctx.lang, "change.untrusted_lines", count=journal.untrusted)
                                              if journal.untrusted else ""))
        return args
