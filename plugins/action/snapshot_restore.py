# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.snapshot_restore: the restore test runs where the snapshot is, from the manifest the journal
recorded; its verdict is kept only for the snapshot asked about (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import SnapshotVerdict


class ActionModule(SnapshotVerdict):

    MODULE = "ssot.governance.snapshot_restore"

    def module_args(self, args, task_vars, lang):
        """The manifest sha256 a trusted journal line recorded, read here on the controller: the module checks the
        manifest it builds the recipe from against it, at that moment (review 20: a manifest swapped after the
        verification task would have been the one run)."""
        return self.recorded_manifest(args, task_vars)
