# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.snapshot_verify: the files are re-hashed where the snapshot is; the verdict is kept only for the
snapshot asked about, compared with the manifest the controller expects (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import SnapshotVerdict


class ActionModule(SnapshotVerdict):

    MODULE = "ssot.governance.snapshot_verify"

    def module_args(self, args, task_vars, lang):
        """With ``workspace``, the manifest sha256 is the one a trusted (sealed) journal line recorded when the
        snapshot was taken - read here, on the controller; the module never reads the workspace. A value the task
        gives that differs from it fails the verification."""
        workspace = args.pop("workspace", None)
        return self.recorded_manifest(args, task_vars) if workspace else args
