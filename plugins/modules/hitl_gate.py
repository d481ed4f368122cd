#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: hitl_gate
short_description: Decide, for the decisions a play needs, whether a named human approved each
version_added: 1.0.0
description:
  - Takes the decision records a play depends on (as C(artifact_info) or C(pg_check) return them) and resolves each
    against the approvals in force, with the SSOT's rules (digest, expiry, approvers, separation of duties).
  - Runs on the controller (an action plugin) and trusts no variable for its verdict - it reads the SSOT file of
    O(workspace) itself (digest and C(hitl) rules), the workspace's C(approvals.yml) itself (with the collection's
    strict YAML reader), works out who runs the play from the operating system (and, under AWX, C(awx_user_name)),
    and asks at the terminal itself.
  - It refuses to run when the launcher set, as an extra var, any variable the collection owns other than the
    launcher inputs listed in the HITL guide (C(docs/hitl.md)); the message names each one.
  - With a human at the terminal (ansible-playbook's own stdin a terminal in the foreground, and no AWX,
    ansible-runner or CI marker), shows each pending decision's card and accepts only an explicit answer
    (C(aprovar A), C(rejeitar)), then the approver's name. Without one it never waits.
  - Approvals given as the extra var C(ssot_approvals) count only when the SSOT says C(hitl.extra_var_approvals).
  - When the SSOT names C(hitl.allowed_signers), an approval counts only with a valid SSH signature of its approver
    (C(ssh-keygen -Y verify), namespace C(approval@ssot.governance)) unless the SSOT says
    C(require_signatures) false; at the terminal the answer is signed with the operator's ssh-agent key, or the
    operator is told to use the C(ssot.governance.approve) playbook (docs/hitl.md).
  - Returns the decisions for the C(ssot.governance.runbook) callback, which ones allow the change (approved with an
    option in O(proceed_options)), which do not (approved with another option, rejected), which are still
    pending, why each approval that names a decision does not count, and ready-to-paste C(approvals.yml) entries
    for the pending ones. Never fails on a pending decision; the C(ssot.governance.hitl_gate) role fails closed.
options:
  language:
    description:
      - Language of the messages, C(pt-BR) or C(en) (another value is ignored). Default, the SSOT's
        C(metadata.language); the roles pass C(ssot_language) through C(module_defaults).
    type: str
  decisions:
    description:
      - The decision records (id, title, context, options, risk, rollback, ssot_digest, ...). A decision whose
        C(ssot_digest) is not the digest of the SSOT file stays pending.
    type: list
    elements: dict
    required: true
  proceed_options:
    description:
      - Option ids that let the play make its change (for example C(fix), C(remediate)). An approval of another
        option settles the decision without this change.
    type: list
    elements: str
    required: true
  workspace:
    description:
      - The workspace folder (C(ssot_workspace_dir)); its SSOT file and C(approvals.yml) are read here.
    type: path
    required: true
  ssot_file:
    description:
      - The SSOT file name inside O(workspace).
    type: str
    default: ssot.yml
  interactive:
    description:
      - C(auto) asks at a real terminal when there is one; C(false) never asks. C(true) is the same as C(auto) - a run
        without a real terminal is never asked, whatever this says.
    type: str
    choices: [auto, "true", "false"]
    default: auto
  prompt_retries:
    description:
      - How many times an answer that is not explicit is asked again.
    type: int
    default: 5
extends_documentation_fragment:
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Which deviations may be fixed
  ssot.governance.hitl_gate:
    decisions: "{{ checked.decisions }}"
    proceed_options: [fix]
    workspace: "{{ ssot_workspace_dir }}"
  register: gate

- name: Stop while a decision is pending
  ansible.builtin.fail:
    msg: "{{ gate.msg }}"
  when: gate.pending | length > 0
'''

RETURN = r'''
decisions:
  description: The decisions resolved (status pending, approved, rejected or expired, with the answer), for the recorder.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "validate.setting.work_mem.1a2b3c4d", "status": "approved",
            "answer": {"option": "fix", "by": "Ana", "at": "2026-11-24T09:00:00Z"}}]
proceed:
  description: Ids of the decisions approved with an option in O(proceed_options) - the changes that may be made.
  returned: always
  type: list
  elements: str
  sample: ["validate.setting.work_mem.1a2b3c4d"]
declined:
  description: Ids of the decisions settled without this change (approved with another option, or rejected).
  returned: always
  type: list
  elements: str
  sample: []
pending:
  description: Ids of the decisions still pending or expired.
  returned: always
  type: list
  elements: str
  sample: []
refusals:
  description: Why approvals that name these decisions do not count.
  returned: always
  type: list
  elements: str
  sample: ["approvals.yml #1 não vale: foi dada para o SSOT sha256:ab..., a decisão é do SSOT sha256:3f..."]
cards:
  description: Decision id to the card shown at a terminal (context, options with letters, risk, rollback).
  returned: always
  type: dict
  sample: {"validate.setting.work_mem.1a2b3c4d": "Decisão ...\nOpções:\n  A) ..."}
msg:
  description: What to tell the operator - when a decision is pending, the fail-closed message naming each, why
    approvals did not count, and the ready-to-paste entries.
  returned: always
  type: str
  sample: "Parado sem mudar nada: 1 decisão(ões) sem aprovação ..."
name_prompt:
  description: The question that asks for the approver's name at a terminal, in the operator's language.
  returned: always
  type: str
  sample: Seu nome (quem aprova, fica registrado)
paste:
  description: Ready-to-paste C(approvals.yml) entries (YAML text) for the pending decisions.
  returned: always
  type: str
  sample: "approvals:\n  - decision: validate.setting.work_mem.1a2b3c4d\n    option: fix ..."
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _text


def main():
    # The work is done by the action plugin of the same name, on the controller: this file is its manual.
    module = AnsibleModule(argument_spec=dict(
        decisions=dict(type="list", elements="dict", required=True),
        proceed_options=dict(type="list", elements="str", required=True),
        workspace=dict(type="path", required=True),
        ssot_file=dict(type="str", default="ssot.yml"),
        interactive=dict(type="str", choices=["auto", "true", "false"], default="auto"),
        prompt_retries=dict(type="int", default=5),
        language=dict(type="str"),
    ), supports_check_mode=True)
    module.fail_json(msg=_text.message(_text.operator_language(), "hitl.action_only", module="ssot.governance.hitl_gate"))


if __name__ == "__main__":
    main()
