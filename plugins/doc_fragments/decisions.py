# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that raises or gates decisions, written once."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  ssot_digest:
    description:
      - Digest of the SSOT in force (C(ssot_digest) from the C(ssot.governance.ssot) role). Every decision
        carries it, and only an approval recorded for the same digest counts.
    type: str
    required: true
  hitl:
    description:
      - The approvals in force and the SSOT's rules for them; the C(ssot.governance.ssot) role builds this as
        the fact C(ssot_hitl).
    type: dict
    default: {}
    suboptions:
      approvals_file:
        description:
          - The workspace's C(approvals.yml) (entries as in C(schemas/approvals.schema.json)); a missing file
            means no approval yet.
        type: path
      approvals:
        description:
          - More approvals with the same fields, typically the extra var C(ssot_approvals) of an AWX survey or
            workflow. They count only with O(hitl.extra_var_approvals).
        type: list
        elements: dict
        default: []
      approvers:
        description:
          - Who may approve (the SSOT's C(hitl.approvers)); empty means anyone named.
        type: list
        elements: str
        default: []
      approval_validity:
        description:
          - How long an approval without C(expires_at) counts after C(approved_at) (the SSOT's
            C(hitl.approval_validity) - C(30m), C(12h), C(7d), C(2w)).
        type: str
        default: 7d
      separation_of_duties:
        description:
          - The SSOT's C(hitl.separation_of_duties) - an approval by any of O(hitl.run_identities) does not count,
            and with no identity known no approval counts (fail closed).
        type: bool
        default: false
      run_identities:
        description:
          - Who runs the play - the operating-system account running ansible-playbook and, under AWX, the user who
            launched the job. The C(ssot.governance.ssot_info) action works them out; never the C(USER) variable.
        type: list
        elements: str
        default: []
      extra_var_approvals:
        description:
          - The SSOT's C(hitl.extra_var_approvals) - whether O(hitl.approvals) (given as extra vars) count.
            Without it each such approval is refused, saying why.
        type: bool
        default: false
      allowed_signers:
        description:
          - The SSOT's C(hitl.allowed_signers), as an absolute path - the OpenSSH allowed-signers file a signed
            approval's C(signature) is verified against (C(ssh-keygen -Y verify), namespace
            C(approval@ssot.governance), principal C(approved_by)).
        type: path
      require_signatures:
        description:
          - The SSOT's C(hitl.require_signatures) - an approval without a valid signature does not count.
        type: bool
        default: false
      file_approvals:
        description:
          - The entries of O(hitl.approvals_file) as the C(ssot.governance.ssot_info) action read and checked them on
            the controller, where the workspace is. When given, the file is not read on the host the module runs on
            (a target reached over SSH does not have it).
        type: list
        elements: dict
      file_approvals_error:
        description:
          - Why O(hitl.approvals_file) could not be read on the controller; the module fails with it.
        type: str
      allowed_signers_text:
        description:
          - The text of O(hitl.allowed_signers), read on the controller; used when that path does not exist on the
            host the module runs on.
        type: str
  language:
    description:
      - Language of the decision texts (the SSOT's C(metadata.language)).
    type: str
    choices: [pt-BR, en]
    default: pt-BR
'''
