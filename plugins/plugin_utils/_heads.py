# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Journal heads kept outside what they protect (docs/recorder.md, "What a head proves").

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A chain and its seals prove that the lines a journal holds were written in that order by the recorder's key; they
cannot prove that nothing was dropped from its end, nor that an older copy was not put back in its place (a
workspace folder restored, the database rows of an environment deleted down to an earlier run). A head - the last
line's seq and hash - kept somewhere the workspace's writers cannot rewrite does: a journal that no longer holds it
was rolled back.

Every run prints its head when it ends; ``verify`` takes one (``verify_expect_head``). The trust root may name a
heads log (``heads_log``), a file outside every workspace, guarded as the root is: each run appends its head there,
signed by the recorder's key (the seal namespace, under a payload of its own), and verify checks the newest head
the log holds for the environment.
"""

from __future__ import annotations

import json
import os

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import message
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import write_all

PREFIX = "ssot.governance head v1"
# Largest heads log read (a line per run per environment: years of runs).
MAX_BYTES = 64 * 1024 * 1024


class HeadsError(Exception):
    pass


def identity(workspace, store_kind="files", namespace=None):
    """What names one environment's records in a heads log: its store and its place there."""
    if store_kind == "postgresql":
        return "postgresql:%s" % namespace
    return "files:%s" % os.path.realpath(workspace)


def payload(entry):
    body = dict((k, v) for k, v in entry.items() if k != "signature")
    return ("%s\n%s\n" % (PREFIX, _chain.canonical(body))).encode("ascii")


def entry(environment, seq, digest, run, at, key=None, env=None):
    """A head as the log keeps it, signed with ``key`` (the recorder's seal key) when there is one; ``env``: the
    identity of the environment the records belong to (the journal's environment line)."""
    out = {"environment": environment, "seq": seq, "hash": digest, "run": run, "at": at}
    if env:
        out["env"] = env
    if key:
        out["signature"] = _sshsig.sign(payload(out), _sshsig.SEAL_NAMESPACE, key_file=key)
    return out


def append(path, head):
    """One line appended to the log, whole (O_APPEND, one write, fsync); a link is never followed."""
    data = (json.dumps(head, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def latest(path, environment, signers=None, now=None, lang="pt-BR"):
    """(the newest head the log holds for ``environment`` whose signature holds, or None; the lines whose signature
    does not hold: [(line number, why)])."""
    held, forged = logged(path, environment, signers, now, lang)
    return (held[-1] if held else None), forged


def logged(path, environment, signers=None, now=None, lang="pt-BR"):
    """(every head the log holds for ``environment`` whose signature holds, oldest first; the lines whose signature
    does not: [(line number, why)]). Without ``signers`` no signature is checked (every entry counts). A log that is
    not there holds no head. A journal only grows: it must still hold every one of them."""
    if not os.path.exists(path):
        return [], []
    if os.path.getsize(path) > MAX_BYTES:
        raise HeadsError(message(lang, "heads.too_big", path=path, limit=MAX_BYTES))
    found, forged = [], []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                head = json.loads(raw.decode("utf-8"))
            except ValueError:
                forged.append((number, message(lang, "heads.not_json")))
                continue
            if not isinstance(head, dict) or head.get("environment") != environment:
                continue
            try:
                _chain.parse_head(head)
            except ValueError:
                forged.append((number, message(lang, "heads.no_head")))
                continue
            if signers:
                try:
                    verdict = _sshsig.verify_signer(payload(head), head.get("signature"), _sshsig.SEAL_NAMESPACE,
                                                    signers, now)
                except _sshsig.SignatureError as exc:
                    raise HeadsError(exc.render(lang))
                if not verdict.ok:
                    forged.append((number, message(lang, verdict.code, **verdict.params)))
                    continue
            found.append(head)
    return found, forged
