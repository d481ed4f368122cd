# Copyright (c) ssot.governance maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m ansible_collections.ssot.governance.agent --workspace NAME=FOLDER ... (docs/agent.md)"""

from __future__ import annotations

import sys

from ansible_collections.ssot.governance.agent.server import main

sys.exit(main())
