#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: approve
short_description: Approve a decision at the terminal, sign it with your SSH key and add it to approvals.yml
version_added: 1.0.0
description:
  - Runs on the controller (an action plugin) - the approver's own machine - and is what the
    C(ssot.governance.approve) playbook calls.
  - Reads the decision O(decision) as the last run recorded it (the workspace's C(runbook.json)); it must have been
    raised under the SSOT file in force (same digest).
  - Refuses to run without a human at the terminal (ansible-playbook's own stdin a terminal in the foreground, and
    no AWX, ansible-runner or CI marker), when the SSOT names no C(hitl.allowed_signers), and when none of the
    approver's keys (O(key), else the ssh-agent's) is listed there for approvals.
  - Shows the decision's card (as the gate's prompt does), accepts only an explicit answer (C(aprovar A),
    C(rejeitar)), asks why, signs the approval with C(ssh-keygen -Y sign) (namespace C(approval@ssot.governance))
    over decision, option, SSOT digest, principal, approved_at, expires_at (approved_at plus the SSOT's
    C(hitl.approval_validity)) and reason, checks the signature as the gate will, and appends the entry to the
    workspace's C(approvals.yml), keeping its comments and other entries byte for byte.
options:
  language:
    description:
      - Language of the messages, C(pt-BR) or C(en) (another value is ignored). Default, the SSOT's
        C(metadata.language); the roles pass C(ssot_language) through C(module_defaults).
    type: str
  workspace:
    description: The workspace folder (the one given as C(ssot_workspace)).
    type: path
    required: true
  ssot_file:
    description: The SSOT file name inside O(workspace).
    type: str
    default: ssot.yml
  decision:
    description: Id of the decision to approve (as the failed run or C(runbook.json) names it).
    type: str
    required: true
  key:
    description:
      - The approver's SSH key - a private key file (its passphrase is asked by C(ssh-keygen) at the terminal), or
        the C(.pub) of a key held by the ssh-agent. Without it, the ssh-agent's keys (C(SSH_AUTH_SOCK)).
    type: path
  prompt_retries:
    description: How many times an answer that is not explicit is asked again.
    type: int
    default: 5
extends_documentation_fragment:
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It writes approvals.yml; there is nothing to predict.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run adds a new signed approval, dated now.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Approve a decision with the key of the ssh-agent
  ssot.governance.approve:
    workspace: /srv/legacy
    decision: validate.setting.work_mem.1a2b3c4d
'''

RETURN = r'''
approval:
  description: The signed entry added to C(approvals.yml).
  returned: success
  type: dict
  sample: {"decision": "validate.setting.work_mem.1a2b3c4d", "option": "fix", "approved_by": "ana@example.org",
           "approved_at": "2026-11-30T10:00:00Z", "expires_at": "2026-12-07T10:00:00Z", "reason": "SSOT manda",
           "ssot_digest": "sha256:3f...", "signature": "-----BEGIN SSH SIGNATURE-----\n...\n-----END SSH SIGNATURE-----\n"}
key:
  description: Fingerprint of the key that signed it.
  returned: success
  type: str
  sample: SHA256:7rEiOJhoaX2619xIx1aiVXIj9dQf54yWHLC6E2uDlLE
path:
  description: The C(approvals.yml) the entry was added to.
  returned: success
  type: str
  sample: /srv/legacy/approvals.yml
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _text


def main():
    # The work is done by the action plugin of the same name, on the controller: this file is its manual.
    module = AnsibleModule(argument_spec=dict(
        workspace=dict(type="path", required=True),
        ssot_file=dict(type="str", default="ssot.yml"),
        decision=dict(type="str", required=True),
        key=dict(type="path"),
        prompt_retries=dict(type="int", default=5),
        language=dict(type="str"),
    ), supports_check_mode=False)
    module.fail_json(msg=_text.message(_text.operator_language(), "hitl.action_only", module="ssot.governance.approve"))


if __name__ == "__main__":
    main()
