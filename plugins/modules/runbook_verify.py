#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: runbook_verify
short_description: Verify that a workspace's records were not altered
version_added: 1.0.0
description:
  - Re-walks the hash chain of C(journal.jsonl) (sequence, link to the previous line, hash of each line) and
    re-hashes every evidence file and view the journal names.
  - Reports what was altered, removed or added - a journal line (by number), an evidence file (by path),
    a file under C(evidence/) the journal does not name, or a view (C(runbook.json), C(project-panel.json))
    that differs from the last version the journal recorded.
  - The first problem is the earliest in the journal; the chain is not followed past a broken line.
  - Checks every seal of the journal (a line signed by the recorder's seal key, C(ssh-keygen -Y verify),
    namespace C(seal@ssot.governance)) against O(allowed_signers) and reports, by line, a seal by a key that is
    not allowed, a seal that does not verify, a journal whose chain holds but differs from what a valid seal
    signed (a rewritten history - the first line that differs is named), and, with O(require_seals), lines no
    valid seal covers. A seal proves only the lines of the run that wrote it; the only lines not sealed yet are the
    verifying run's own last ones.
  - With O(expect_head) (the head a run printed when it ended, kept outside the workspace) or a heads log named by
    the trust root (C(heads_log)), a journal that no longer holds that head - its newest lines dropped, an older copy
    put back - is reported (C(journal_rolled_back)), with the expected and the found heads.
  - Runs on the controller, in ansible-playbook's own process (its action plugin), over the workspace folder or, with
    the recorder's C(postgresql) store (callback option C(store), C(SSOT_STORE)), over the records in the database -
    the environment's namespace, named after O(workspace) - naming what was altered by its row (C(ssot_journal
    namespace=... seq=N), C(ssot_file namespace=... path=...)).
options:
  allowed_signers:
    description:
      - OpenSSH allowed-signers file the seals are checked against - the auditor's own copy of the trust root, kept
        outside the workspace; seals are then required. Without it, the trust root's signers (C(SSOT_TRUST_ROOT)) as
        the SSOT narrows them, and seals are required as the root says (docs/security.md).
      - With no signers at all a sealed journal is a problem (C(seal_unchecked)) - a seal nobody can check proves
        nothing.
    type: path
  expect_head:
    description:
      - A journal head kept outside the workspace, as a run prints it when it ends (C(seq:sha256)); the journal must
        still hold that line. The verify playbook passes C(verify_expect_head).
    type: str
  require_seals:
    description: Report lines that no valid seal covers (C(journal_unsealed)), whatever the trust root says.
    type: bool
    default: false
  ssot_file:
    description: The SSOT file inside O(workspace) that narrows the trust root.
    type: str
    default: ssot.yml
  workspace:
    description: The workspace folder (the one given as C(ssot_workspace)).
    type: path
    required: true
  fail_on_problem:
    description: Fail when anything was altered (otherwise only report it in RV(problems)).
    type: bool
    default: true
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Verify the records of the workspace
  ssot.governance.runbook_verify:
    workspace: "{{ ssot_workspace }}"

- name: Only report
  ssot.governance.runbook_verify:
    workspace: /srv/legacy
    fail_on_problem: false
  register: verified

- name: Verify the seals against an allowed-signers file kept outside the workspace (the infra repo)
  ssot.governance.runbook_verify:
    workspace: /srv/legacy
    allowed_signers: /srv/infra/legacy/allowed_signers
    require_seals: true
'''

RETURN = r'''
ok:
  description: Whether nothing was altered, removed or added.
  returned: always
  type: bool
  sample: true
problems:
  description: What was found, earliest first; C(kind) is one of journal_missing, journal_torn, journal_altered,
    journal_rewritten, journal_unsealed, journal_rolled_back, journal_foreign, records_moved, environment_replaced,
    head_unreadable, head_forged, seal_invalid,
    seal_unknown_key, seal_unchecked, seal_unverifiable, evidence_missing, evidence_altered, evidence_added,
    view_missing, view_altered, view_added, snapshot_missing, snapshot_altered, snapshot_added.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "evidence_altered", "where": "evidence/20261124T001500Z-ab12/00012-localhost-validate.log",
            "detail": "sha256 differs from journal.jsonl:12"}]
lines:
  description: Journal lines read.
  returned: always
  type: int
  sample: 120
evidence_checked:
  description: Evidence files the journal names, all re-hashed.
  returned: always
  type: int
  sample: 4
views_checked:
  description: Views the journal names.
  returned: always
  type: int
  sample: 2
snapshots_checked:
  description: Snapshots the journal recorded, each re-hashed against its manifest (and the manifest against the journal).
  returned: always
  type: int
  sample: 1
seals:
  description:
    - What the seals prove - C(checked), C(valid), C(signers) (principals), C(unsealed) (line ranges no valid seal
      covers) and C(open_from) (first line of the verifying run's own last lines, not sealed yet).
  returned: always
  type: dict
  sample: {"checked": 3, "valid": 3, "signers": ["recorder@ci"], "unsealed": [], "open_from": 431}
last_hash:
  description: Hash of the last good journal line.
  returned: always
  type: str
  sample: 6f1c...
head:
  description: The journal's head as verified (C(seq) and C(hash) of its last line); C(seq:hash) is what to keep.
  returned: when the journal has lines
  type: dict
  sample: {"seq": 431, "hash": "6f1c..."}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _chain


def main():
    module = AnsibleModule(
        argument_spec=dict(language=dict(type="str", default="pt-BR"), workspace=dict(type="path", required=True),
                           fail_on_problem=dict(type="bool", default=True),
                           allowed_signers=dict(type="path"), require_seals=dict(type="bool", default=False),
                           ssot_file=dict(type="str", default="ssot.yml"), expect_head=dict(type="str")),
        supports_check_mode=True,
    )
    heads = [("expect_head", module.params["expect_head"])] if module.params["expect_head"] else []
    report = _chain.verify(module.params["workspace"], module.params["allowed_signers"],
                           module.params["require_seals"], lang=module.params["language"], expect_heads=heads)
    if report["problems"] and module.params["fail_on_problem"]:
        module.fail_json(msg=_chain.problem_message(report, module.params["language"]), changed=False, **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
