# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operator texts from the message catalog, in the operator's language.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only.
"""

from __future__ import annotations

import os
import re

from ansible_collections.ssot.governance.plugins.module_utils import _messages

DEFAULT_LANGUAGE = "pt-BR"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def operator_language(lang=None):
    """``lang`` when the catalog has it; else SSOT_LANGUAGE (before an SSOT says which); else the default."""
    for candidate in (lang, os.environ.get("SSOT_LANGUAGE")):
        if candidate in _messages.MESSAGES:
            return candidate
    return DEFAULT_LANGUAGE


def catalog(lang):
    """The texts of ``lang``; a language the catalog lacks falls back to the default."""
    return _messages.MESSAGES.get(lang) or _messages.MESSAGES[DEFAULT_LANGUAGE]


def message(lang, code, **params):
    """Catalog text with its {placeholders} filled; other braces (``{env: NAME}``) stay as written."""
    return _PLACEHOLDER.sub(lambda m: rendered(params[m.group(1)], lang) if m.group(1) in params else m.group(0),
                            catalog(lang)[code])


class Coded(Exception):
    """An error an operator reads: a catalog key and its parameters, rendered in the operator's language when it is
    shown (``rendered(exc, lang)``). A parameter that is itself a Coded error is rendered in the same language."""

    def __init__(self, code, **params):
        super(Coded, self).__init__(code)
        self.code, self.params = code, params

    def render(self, lang=None):
        return message(operator_language(lang), self.code, **self.params)

    def __str__(self):
        return self.render()


def shown(value, limit=80):
    """A value from outside (a record, a server's catalog, an image's config) as a message or a text log may show it:
    at most ``limit`` characters, none that moves a cursor or starts a line (control characters as escapes)."""
    if value is None:
        return "-"
    try:
        text = str(value)
    except ValueError:  # an int too long to print
        text = "<%s>" % type(value).__name__
    return "".join(c if c.isprintable() else "\\x%02x" % (ord(c) & 0xff) for c in text[:limit]) + (
        "..." if len(text) > limit else "")


def rendered(value, lang=None):
    """A Coded error in ``lang``; anything else (an OSError, a tool's own output, a number) as its text."""
    if isinstance(value, Coded):
        return value.render(lang)
    return value if isinstance(value, str) else str(value)


def human_size(n):
    """Bytes as an operator reads them: 512 B, 34.3 MiB, 2.0 GiB."""
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024
    return "%.1f TiB" % n
