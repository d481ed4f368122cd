# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.snapshot_verify: the files are re-hashed where the snapshot is; the verdict is kept only for the
snapshot asked about, compared with the manifest the controller expects (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import SnapshotVerdict


class ActionModule(SnapshotVerdict):

    MODULE = "ssot.governance.snapshot_verify"
