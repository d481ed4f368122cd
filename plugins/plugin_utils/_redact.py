# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets before anything reaches a file of the workspace.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Three layers, applied to every value the recorder writes:
1. keys: the value of any key that names a secret (password, token, secret, ...) is replaced;
2. shapes: DSN passwords (``postgresql://u:PASS@h``, ``password=PASS``) and ``NAME=value``
   entries of a container ``Env`` list whose NAME is not known to be harmless;
3. values: every secret value learned so far (from redacted keys and from the controller's
   environment variables with secret-like names) is replaced wherever it appears in text.
"""

from __future__ import annotations

import base64
import json
import os
import re

from urllib.parse import quote, quote_plus

from ansible_collections.ssot.governance.plugins.module_utils import _secrets

MASK = _secrets.MASK
DEFAULT_KEY_PATTERN = _secrets.KEY_PATTERN
# Env entries that are never secrets; everything else in an Env list is masked.
HARMLESS_ENV = frozenset(("PATH", "PGDATA", "LANG", "LC_ALL", "TZ", "HOME", "HOSTNAME", "TERM", "PGPORT",
                          "PGHOST", "PGUSER", "PGDATABASE", "POSTGRES_USER", "POSTGRES_DB",
                          "POSTGRES_HOST_AUTH_METHOD"))
# Environment variables whose names look secret (they contain "pwd") but hold the working
# directory: learning them would mask every path of the workspace.
NOT_SECRET_ENV = frozenset(("PWD", "OLDPWD"))
MIN_SECRET_LEN = 4


# base64(1) folds its output at this width: a secret's encoding may be split over lines.
BASE64_WRAP = 76
# A secret this long or longer is also masked inside a longer base64 text (HTTP Basic auth, a file's encoding): the
# part of its encoding that does not depend on what comes before or after it.
MIN_EMBEDDED_LEN = 8


def encoded_forms(secret):
    """Every form a secret is known to leak in: itself; as it stands inside JSON text (escaped quotes, \\uXXXX, as
    a tool's output kept as text - docker inspect, psql - holds it); base64, standard and URL-safe, with and without
    padding, also of the secret followed by a newline (``echo "$X" | base64``); its hex, lower and upper case; URL
    encoded (``%XX``, and ``+`` for spaces); and, for a long enough secret, the core of its base64 inside longer
    text at each of the three alignments."""
    raw = secret.encode("utf-8", "surrogatepass")
    forms = set([secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                 raw.hex(), raw.hex().upper(), quote(secret, safe=""), quote_plus(secret, safe="")])
    for data in (raw, raw + b"\n"):
        for encoded in (base64.b64encode(data).decode("ascii"), base64.urlsafe_b64encode(data).decode("ascii")):
            forms.update((encoded, encoded.rstrip("=")))
    if len(raw) >= MIN_EMBEDDED_LEN:
        for shift in (0, 1, 2):
            encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
            first, last = -(-8 * shift // 6), (8 * (shift + len(raw))) // 6
            core = encoded[first:last]
            forms.update((core, core.replace("+", "-").replace("/", "_")))
    return forms


def _pattern(form):
    """A form as a regular expression; a base64-looking one longer than a base64(1) line may be folded (a newline
    every BASE64_WRAP characters, wherever its own output started)."""
    if len(form) > BASE64_WRAP // 2 and re.match(r"^[A-Za-z0-9+/=_-]+$", form):
        return r"(?:\r?\n)?".join(re.escape(c) for c in form)
    return re.escape(form)


class Redactor(object):

    def __init__(self, extra_patterns=(), environ=None, extra_vars=None, secret_vars=()):
        patterns = [DEFAULT_KEY_PATTERN] + [p for p in extra_patterns if p]
        self.key_re = re.compile("|".join("(?:%s)" % p for p in patterns), re.I)
        self.values = set()
        self._forms = set()
        self._values_re = None
        self.environ = os.environ if environ is None else environ
        self.extra_vars = extra_vars or {}
        for name, value in self.environ.items():
            if self.key_re.search(name) and name not in NOT_SECRET_ENV:
                self.learn(value)
        # Extra vars with a secret-like name, and those declared secret (the callback's secret_vars).
        for name, value in self.extra_vars.items():
            if name in secret_vars or self.key_re.search(str(name)):
                self._learn_all(value)

    def learn_references(self, doc):
        """Learn the value behind every {env: NAME} / {var: NAME} the SSOT makes, whatever NAME looks like."""
        for kind, name in _secrets.references(doc):
            source = self.environ if kind == "env" else self.extra_vars
            if name in source:
                self._learn_all(source[name])

    def learn(self, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and len(value) >= MIN_SECRET_LEN and value != MASK and value not in self.values:
            self.values.add(value)
            self._forms.update(encoded_forms(value))
            # Longest first, so a secret containing another is masked whole.
            alternation = "|".join(_pattern(f) for f in sorted(self._forms, key=len, reverse=True) if f)
            self._values_re = re.compile(alternation)

    def is_secret_key(self, key):
        return isinstance(key, str) and self.key_re.search(key) is not None

    def text(self, value):
        """Mask secrets inside a string."""
        if not value:
            return value
        out = _secrets.mask_dsn(value, self.learn)
        if self._values_re is not None:
            out = self._values_re.sub(MASK, out)
        return out

    def _env_entry(self, entry):
        if isinstance(entry, str) and "=" in entry:
            name, value = entry.split("=", 1)
            if name not in HARMLESS_ENV:
                self.learn(value)
                return "%s=%s" % (name, MASK)
        return self.value(entry)

    def value(self, obj, key=None, limit=None):
        """A redacted copy of a JSON-like value; with ``limit``, longer strings are cut (journal entries).

        Anything that is not JSON already (an exception, bytes, a date) is redacted as the text it will be
        written as, so no secret escapes by its type."""
        if not isinstance(obj, (dict, list, tuple, str, int, float, bool, type(None))):
            obj = obj.decode("utf-8", "replace") if isinstance(obj, (bytes, bytearray)) else str(obj)
        if key is not None and self.is_secret_key(key) and obj not in (None, "", [], {}):
            if isinstance(obj, (str, int, float)) and not isinstance(obj, bool):
                self.learn(obj)
                return MASK
            if _secrets.is_reference(obj):
                return dict((k, self.value(v)) for k, v in obj.items())  # a reference, not a secret
            if isinstance(obj, (list, dict)):
                self._learn_all(obj)
                return MASK
        if isinstance(obj, dict):
            # A key is text too (a tool's output keyed by what it read): masked like any value.
            return dict((self.text(k) if isinstance(k, str) else k, self.value(v, k, limit)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            if key == "Env":
                return [self._env_entry(e) for e in obj]
            return [self.value(v, None, limit) for v in obj]
        if isinstance(obj, str):
            out = self.text(obj)
            if limit is not None and len(out) > limit:
                out = out[:limit] + "...[%d more characters: see the evidence]" % (len(out) - limit)
            return out
        return obj

    def _learn_all(self, obj):
        if isinstance(obj, dict):
            for v in obj.values():
                self._learn_all(v)
        elif isinstance(obj, list):
            for v in obj:
                self._learn_all(v)
        elif obj is not None and not isinstance(obj, bool):
            self.learn(obj)
