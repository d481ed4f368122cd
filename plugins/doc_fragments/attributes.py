# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capability attributes shared by the modules (check mode, diff mode, idempotency)."""

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
'''

    # Modules that only read: full check mode, nothing to diff, always idempotent.
    READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: The module never changes anything, so check mode runs it as usual.
  diff_mode:
    support: none
  idempotent:
    support: full
'''
