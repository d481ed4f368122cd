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
    against the approvals in force (C(approvals.yml), the C(ssot_approvals) extra var, and O(answers) given at a
    terminal), with the SSOT's rules (digest, expiry, approvers, separation of duties).
  - Returns the decisions for the C(ssot.governance.runbook) callback, which ones allow the change (approved with an
    option in O(proceed_options)), which do not (approved with another option, rejected), which are still
    pending, why each approval that names a decision does not count, the decision cards to show at a terminal,
    and ready-to-paste C(approvals.yml) entries for the pending ones.
  - Never prompts and never fails on a pending decision; the C(ssot.governance.hitl_gate) role asks at a terminal
    and fails closed without one.
options:
  decisions:
    description:
      - The decision records (id, title, context, options, risk, rollback, ssot_digest, ...).
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
  interactive:
    description:
      - Whether a terminal was available (only changes the wording of RV(msg)).
    type: bool
    default: false
  answers:
    description:
      - Answers given at a terminal - C(decision), C(option) (an option id or C(reject)), C(approved_by), optional
        C(reason). Each becomes an approval dated now, for the decision's SSOT digest.
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - ssot.governance.decisions
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance contributors
'''

EXAMPLES = r'''
- name: Which deviations may be fixed
  ssot.governance.hitl_gate:
    decisions: "{{ checked.decisions }}"
    proceed_options: [fix]
    ssot_digest: "{{ ssot_digest }}"
    hitl: "{{ ssot_hitl }}"
  register: gate

- name: Stop while a decision is pending
  ansible.builtin.fail:
    msg: "{{ gate.paste }}"
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
from ansible_collections.ssot.governance.plugins.module_utils import _decisions


def main():
    argument_spec = _decisions.argument_spec()
    argument_spec.update(
        decisions=dict(type="list", elements="dict", required=True),
        proceed_options=dict(type="list", elements="str", required=True),
        answers=dict(type="list", elements="dict", default=[]),
        interactive=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    try:
        policy = _decisions.Policy(p)
    except _decisions.ApprovalError as exc:
        module.fail_json(msg=str(exc))
    by_id = dict((d["id"], d) for d in p["decisions"] if isinstance(d, dict) and d.get("id"))
    terminal = []
    for n, answer in enumerate(p["answers"], 1):
        decision = by_id.get(answer.get("decision"))
        if decision is None or not answer.get("option") or not str(answer.get("approved_by") or "").strip():
            module.fail_json(msg=_decisions.text(policy.lang, "hitl.answer_incomplete", n=n))
        terminal.append({"decision": decision["id"], "option": answer["option"],
                         "approved_by": str(answer["approved_by"]).strip(),
                         "approved_at": _decisions.iso(policy.now),
                         "reason": answer.get("reason") or _decisions.text(policy.lang, "hitl.terminal_reason"),
                         "ssot_digest": decision.get("ssot_digest"), "source": "terminal #%d" % n})
    policy.approvals = policy.approvals + terminal
    resolved = [policy.resolve(d) for d in by_id.values()]
    proceed, declined, pending, refusals = [], [], [], []
    for d in resolved:
        refusals.extend(d.get("refusals") or [])
        if d["status"] == _decisions.APPROVED and d["answer"]["option"] in p["proceed_options"]:
            proceed.append(d["id"])
        elif d["status"] in (_decisions.APPROVED, _decisions.REJECTED):
            declined.append(d["id"])
        else:
            pending.append(d["id"])
    waiting = [d for d in resolved if d["id"] in pending]
    for d in waiting:
        # An approval of an earlier version of the same divergence (other facts, so another id) is named too.
        family = d["id"].rsplit(".", 1)[0]
        for entry in policy.approvals:
            other = str(entry.get("decision", ""))
            if other != d["id"] and other.rsplit(".", 1)[0] == family:
                refusals.append(_decisions.text(policy.lang, "approval.refused.other_version", source=entry["source"],
                                                other=other, id=d["id"]))
    first_option = next(iter(p["proceed_options"]), None)
    paste = ("approvals:\n" + "".join(_decisions.paste_entry(d, first_option, policy.lang) for d in waiting)
             if waiting else "")
    lang = policy.lang
    if waiting:
        mode = _decisions.text(lang, "hitl.mode.interactive" if p["interactive"] else "hitl.mode.noninteractive")
        lines = [_decisions.text(lang, "hitl.fail_closed", count=len(waiting), mode=mode,
                                 path=(p["hitl"] or {}).get("approvals_file") or "approvals.yml")]
        lines += ["  [%s] %s (%s)" % (d["id"], d.get("title", ""), d["status"]) for d in waiting]
        lines += refusals + ["", paste]
        msg = "\n".join(lines)
    else:
        msg = "proceed: %s; declined: %s" % (", ".join(proceed) or "-", ", ".join(declined) or "-")
    module.exit_json(changed=False, decisions=resolved, proceed=proceed, declined=declined, pending=pending,
                     refusals=refusals, cards=dict((d["id"], _decisions.card(d, lang)) for d in waiting),
                     paste=paste, msg=msg, name_prompt=_decisions.text(lang, "hitl.ask.name"))


if __name__ == "__main__":
    main()
