#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: change
short_description: Make one change the SSOT asks for (or undo the last one), checking its approval at that moment
version_added: 1.2.0
description:
  - Every change of the collection - server settings, C(trust) out of pg_hba, the container republished on the SSOT's
    ports, the ingestion of the source's databases - and every rollback of one runs here, on the controller, and
    nowhere else. It reads what decides it itself, at that moment, from what the controller read - the SSOT in force
    (the workspace's own file), C(approvals.yml) (and C(ssot_approvals) where the SSOT accepts them), the trust root
    (C(SSOT_TRUST_ROOT), outside every workspace), the run's identities - and what the target reports now. No
    variable, fact, task order, tag or C(--start-at-task) decides what it applies (docs/security.md).
  - "A change: detect (a read-only check on the host), decide (the decisions it answers, resolved here; at a real
    terminal the card is shown and only an explicit answer counts; without one, a pending decision fails closed,
    naming it), plan (evidence), rollback data (a record returned before anything moves), apply, verify."
  - "A rollback (O(rollback)=true) is a change: its data comes only from journal lines whose chain holds and that a
    valid seal covers, checked against a strict shape that never carries a path or a command (the server's
    C(hba_file), the SSOT's settings and container decide where it acts), and it answers its own decision
    C(rollback.<subject>.<hex>) (options C(rollback), C(keep)) whose card shows what it restores."
  - It refuses to act on a host whose environment the C(ssot.governance.runbook) callback is not recording in this
    play. In check mode it plans, says what it would do, and changes nothing.
options:
  kind:
    description:
      - Which change - C(settings) (ALTER SYSTEM, reload or restart), C(pg_hba) (trust replaced by the SSOT's
        password method), C(exposure) (republish the container on the SSOT's bind and port, keeping its data), or
        C(ingest) (the approved databases from the SSOT's sources, a verified snapshot first).
    type: str
    required: true
    choices: [settings, pg_hba, exposure, ingest]
  rollback:
    description:
      - Undo the last change of O(kind) recorded in the journal, instead of making it.
    type: bool
    default: false
  interactive:
    description:
      - C(auto) asks at a real terminal when a decision waits; C(false) never asks. A run without a real terminal is
        never asked.
    type: str
    choices: [auto, "true", "false"]
    default: auto
  prompt_retries:
    description:
      - How many times an answer that is not explicit is asked again.
    type: int
    default: 5
  wait_retries:
    description:
      - How many seconds to wait for PostgreSQL after a restart or a republication.
    type: int
    default: 60
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: full
    details: Plans and returns the plan; nothing is applied, no rollback record is made.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run finds nothing deviating and changes nothing.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Settings to the SSOT (the approval is checked here)
  ssot.governance.change:
    kind: settings

- name: Undo the last settings change (a decision of its own)
  ssot.governance.change:
    kind: settings
    rollback: true
'''

RETURN = r'''
decisions:
  description: The decisions the change answered, as settled on the controller (for the recorder).
  returned: always
  type: list
  elements: dict
rollbacks:
  description: Rollback records (the point before the change, the tables right after it, or a rollback's done).
  returned: when a change or a rollback was applied
  type: list
  elements: dict
evidence:
  description: Detection, plan, verification and rollback evidence.
  returned: always
  type: list
  elements: dict
check_mode:
  description: Whether this was a plan only (check mode).
  returned: always
  type: bool
notes:
  description: What else the operator should know (journal lines that could not be trusted, refused records).
  returned: when there is something
  type: list
  elements: str
msg:
  description: What happened, in the operator's language.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _text


def main():
    # The work is done by the action plugin of the same name, on the controller: this file is its manual.
    module = AnsibleModule(argument_spec=dict(
        kind=dict(type="str", required=True, choices=["settings", "pg_hba", "exposure", "ingest"]),
        rollback=dict(type="bool", default=False),
        interactive=dict(type="str", choices=["auto", "true", "false"], default="auto"),
        prompt_retries=dict(type="int", default=5),
        wait_retries=dict(type="int", default=60),
        language=dict(type="str", default="pt-BR"),
    ), supports_check_mode=True)
    module.fail_json(msg=_text.message(_text.operator_language(), "hitl.action_only", module="ssot.governance.change"))


if __name__ == "__main__":
    main()
