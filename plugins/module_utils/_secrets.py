# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a secret looks like: the key names, the DSN shapes, and the references an SSOT makes to secrets.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only: the recorder
(controller) masks with it, ssot_info (target) keeps secrets out of its error messages.
"""

from __future__ import annotations

import re

MASK = "********"
# Case-insensitive names of keys whose values are secrets.
KEY_PATTERN = r"pass(word|wd)?|pwd|secret|token|api[_-]?key|private[_-]?key|credential|auth[_-]?key|pgpass"
# scheme://user:PASSWORD@host - the password runs to the last @ before the host (it may hold an @ itself).
DSN_URL = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^\s/]+)(?P<tail>@[^@\s/]*)", re.I)
# password=PASSWORD, password = 'PASS WORD' (libpq key/value form, quoted or not).
DSN_KV = re.compile(r"(?P<head>\b(password|passwd|pwd)\s*=\s*)(?:(?P<q>['\"])(?P<qsecret>.*?)(?P=q)|"
                    r"(?P<secret>[^'\"\s,;)]+))", re.I)
REFERENCE_KEYS = ("env", "var")


def mask_dsn(text, learn=None):
    """``text`` with DSN passwords replaced by MASK; each password found is given to ``learn``."""
    def url(m):
        if learn:
            learn(m.group("secret"))
        return "%s%s%s" % (m.group("head"), MASK, m.group("tail"))

    def kv(m):
        quote = m.group("q") or ""
        secret = m.group("qsecret") if quote else m.group("secret")
        if learn:
            learn(secret)
        return "%s%s%s%s" % (m.group("head"), quote, MASK, quote)

    return DSN_KV.sub(kv, DSN_URL.sub(url, text))


def is_reference(value):
    return (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in REFERENCE_KEYS
            and isinstance(next(iter(value.values())), str))


def references(doc):
    """Every ``{env: NAME}`` / ``{var: NAME}`` anywhere in ``doc``, as (kind, name)."""
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        if is_reference(node):
            out.append(next(iter(node.items())))
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out
