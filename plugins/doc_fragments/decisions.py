# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that raises decisions, written once."""

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
  approvals_file:
    description:
      - The workspace's C(approvals.yml). Decisions it approves (same id, an offered option, same SSOT digest,
        not expired, by one of O(approvers) when given) come back C(approved); the rest stay C(pending).
      - A missing file means no approval yet.
    type: path
  approvers:
    description:
      - Who may approve (the SSOT's C(hitl.approvers)); empty means anyone named.
    type: list
    elements: str
    default: []
  language:
    description:
      - Language of the decision texts (the SSOT's C(metadata.language)).
    type: str
    choices: [pt-BR, en]
    default: pt-BR
'''
