# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signing an approval and adding it to approvals.yml (controller side: the approve playbook, the gate's prompt).

PRIVATE: internal to ssot.governance; its API may change at any time.

approvals.yml is the operators' file, often committed to the infra repository: an entry is added as
text at the end of its list, so its comments, its order and its other entries stay as they were, and
the result is read back with the strict reader before it replaces the file (atomically, never through
a symbolic link).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded


class ApproveError(Coded):
    """Cannot sign or record the approval; ``code``/``params`` are a catalog key and its placeholders."""


def signing_identities(allowed_signers, key_file=None, now=None):
    """[(principal, key blob, key_file or None)] the operator can sign approvals with: the key file given, else
    every key of the ssh-agent, each with the principals the allowed signers (the trust root's, as the SSOT narrows
    them) list it for - approvals allowed, inside its validity."""
    now = now or _decisions.utc_now()
    if key_file:
        candidates = [(_sshsig.key_file_blob(os.path.expanduser(key_file)), os.path.expanduser(key_file))]
    else:
        candidates = [(blob, None) for blob in _sshsig.agent_keys()]
    out = []
    for s in _sshsig.signers_of(allowed_signers):
        if _sshsig.line_refusal(s, _sshsig.APPROVAL_NAMESPACE, now):
            continue
        for blob, path in candidates:
            if blob == s["key"]:
                out.extend((p, blob, path) for p in s["principals"] if (p, blob, path) not in out)
    return out


def choose(identities, lang, retries):
    """The identity to sign with: the only one, or the one the operator picks at the terminal (None: no answer)."""
    from ansible_collections.ssot.governance.plugins.module_utils._text import message
    from ansible_collections.ssot.governance.plugins.plugin_utils import _terminal
    if len(identities) == 1:
        return identities[0]
    menu = "\n".join("  %d) %s" % (i, p) for i, (p, _b, _k) in enumerate(identities, 1))
    pick = _terminal.prompt(message(lang, "hitl.sign.which", menu=menu) + "\n> ", retries,
                            lambda typed: typed.strip() if typed.strip().isdigit()
                            and 1 <= int(typed.strip()) <= len(identities) else None)
    return identities[int(pick) - 1] if pick else None


def new_entry(base, principal, reason, validity, now=None):
    """The approval a signature will cover: ``base`` (decision, option, environment, card, ssot_digest) by
    ``principal``, dated now, expiring after the SSOT's approval_validity."""
    now = (now or _decisions.utc_now()).replace(microsecond=0)
    span = _decisions._validity(validity) or _decisions._validity("7d")
    return dict(base, approved_by=principal, approved_at=_decisions.iso(now), expires_at=_decisions.iso(now + span),
                reason=reason)


def sign(entry, blob, key_file=None):
    """``entry`` with its SSH signature: with ``key_file`` when the approver gave one, else the agent's key ``blob``."""
    signature = _sshsig.sign(_sshsig.approval_payload(entry), _sshsig.APPROVAL_NAMESPACE, key_file=key_file,
                             agent_key=None if key_file else blob)
    return dict(entry, signature=signature)


def signature_block(signature, pad):
    """``signature: |`` and the armored signature, its lines indented under a key that stands at ``pad``."""
    return "signature: |\n" + "".join("%s  %s\n" % (pad, line) for line in signature.strip().splitlines())


def entry_text(entry, indent="  "):
    """One approvals.yml list item, as YAML text (scalars JSON-quoted, the signature as a literal block)."""
    pad = indent + "  "
    lines = ["%s: %s\n" % (key, json.dumps(str(entry[key]), ensure_ascii=False))
             for key in _sshsig.APPROVAL_FIELDS if entry.get(key) not in (None, "")]
    if entry.get("signature"):
        lines.append(signature_block(entry["signature"], pad))
    return "".join(("%s- " % indent if n == 0 else pad) + line for n, line in enumerate(lines))


def _indent_of(lines):
    """The indentation of the list items under ``approvals:`` (two spaces when the list is empty)."""
    for line in lines:
        stripped = line.lstrip(" ")
        if stripped.startswith("- "):
            return line[:len(line) - len(stripped)]
    return "  "


def append(path, entry, lang="pt-BR"):
    """Add ``entry`` at the end of approvals.yml's list, keeping everything else byte for byte."""
    name = os.path.basename(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ApproveError("approve.unsafe_file", file=name)
    before = _decisions.load_approvals(path, lang) if st is not None else []
    try:
        text = _yaml.read_text(path, _decisions.APPROVALS_MAX_BYTES) if st is not None else ""
    except _yaml.LoadError:  # replaced since it was read: take nothing from it
        raise ApproveError("approve.unsafe_file", file=name)
    lines = text.splitlines(True)
    head = [i for i, line in enumerate(lines) if line.rstrip() in ("approvals:", "approvals: []")]
    if not head:
        if text.strip() and not all(l.lstrip().startswith("#") or not l.strip() for l in lines):
            raise ApproveError("approve.cannot_append", file=name)
        text = text + ("" if not text or text.endswith("\n") else "\n") + "approvals:\n"
    elif lines[head[-1]].rstrip() == "approvals: []":
        lines[head[-1]] = "approvals:\n"
        text = "".join(lines)
    if not text.endswith("\n"):
        text += "\n"
    text += entry_text(entry, _indent_of(lines[head[-1] + 1:] if head else []))
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".approvals-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None:
            os.chmod(temp, stat.S_IMODE(st.st_mode))
        after = _decisions.load_approvals(temp, lang)
        wanted = [dict(e, source=None) for e in before] + [dict(entry, source=None)]
        if [dict(e, source=None) for e in after] != wanted:
            raise ApproveError("approve.cannot_append", file=name)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return text
