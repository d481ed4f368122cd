# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.snapshot_plan: the estimate is made where the snapshot goes; its decisions are settled here, on the
controller (plugin_utils/_observe.py)."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import ObservingAction


class ActionModule(ObservingAction):

    MODULE = "ssot.governance.snapshot_plan"
    MAY_PROPOSE = ("decision", "decisions")
