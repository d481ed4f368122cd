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
      - Digest of the SSOT in force. The module's action replaces it with the digest of the SSOT the controller
        reads itself; every decision carries it, and only an approval recorded for the same digest counts.
      - Decisions are raised here pending, with their facts; the module's action settles them on the controller
        (approvals, signatures and the trust root never reach the host the module runs on - docs/security.md).
    type: str
    required: true
  language:
    description:
      - Language of the decision texts (the SSOT's C(metadata.language)).
    type: str
    choices: [pt-BR, en]
    default: pt-BR
'''
