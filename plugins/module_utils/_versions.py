# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL version constraints ("10", "9.4", ">=9.4,<11").

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only.
"""

from __future__ import annotations

import re

from ansible_collections.ssot.governance.plugins.module_utils._text import Coded

_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*(\d+)(?:\.(\d+))?\s*$")


class VersionError(Coded, ValueError):
    pass


def as_text(value):
    """YAML reads 9.4 as a float and 10 as an int; constraints are text."""
    if isinstance(value, bool):
        raise VersionError("version.error.boolean")
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def parse_constraint(value):
    """Return [(operator, (major, minor|None))]. A bare version means ==."""
    text = as_text(value)
    if not text:
        raise VersionError("version.error.empty")
    clauses = []
    for part in text.split(","):
        m = _CLAUSE.match(part)
        if not m:
            raise VersionError("version.error.unreadable", value=repr(part.strip()))
        op = m.group(1) or "=="
        clauses.append(("==" if op == "=" else op, (int(m.group(2)), int(m.group(3)) if m.group(3) else None)))
    return clauses


def major_key(major_text):
    """'9.4' -> (9, 4); '10' -> (10, None): the PostgreSQL major numbering."""
    m = re.match(r"^\s*(\d+)(?:\.(\d+))?", as_text(major_text))
    if not m:
        raise VersionError("version.error.invalid", value=repr(major_text))
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None)


def _cmp_key(v):
    # Before 10 the major is X.Y; from 10 on it is X. Compare as (X, Y or 0).
    return (v[0], v[1] or 0)


def satisfies(major_text, constraint):
    """Does a server major ('9.4', '10') satisfy the constraint?"""
    actual = major_key(major_text)
    for op, wanted in parse_constraint(constraint):
        if op in ("==", "!="):
            # "10" matches major 10; "9" matches 9.x only when written bare.
            equal = actual[0] == wanted[0] and (wanted[1] is None or (actual[1] or 0) == wanted[1])
            if equal != (op == "=="):
                return False
            continue
        a, w = _cmp_key(actual), _cmp_key(wanted)
        if not {">=": a >= w, "<=": a <= w, ">": a > w, "<": a < w}[op]:
            return False
    return True
