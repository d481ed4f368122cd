# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The journal lines the controller may act on: those whose chain holds and that a valid seal covers
(docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A journal line is data someone could have written (the workspace's file, a row of the records database). Before a
rollback takes its data from the journal, or an approver is shown a decision from it, the lines are re-walked from
the first: the chain must hold up to them, and - where the trust root requires seals, as it does by default - a seal
by an allowed recorder key must cover them, and that seal must have been made by the very run that wrote them (a seal
vouches for what its run witnessed: a line appended after a seal - however well chained, whatever run it names - and
sealed later by another run's seal is never acted on).
"""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _result, _sshsig
from ansible_collections.ssot.governance.plugins.plugin_utils import _store


class Journal(object):
    """The trusted lines of one environment's journal."""

    def __init__(self, workspace, rules, lang="pt-BR", now=None):
        raw = list(_store.journal_lines(workspace, lang))
        parsed, hashes, seals, broken = _chain.walk(raw)
        self.total = len(raw)
        self.broken = broken
        self.sealed = rules.require_seals
        if rules.require_seals:
            covered = set()
            runs = [line.get("run") for line in parsed]
            if rules.signers and seals:
                for number, dummy, problem, proved in _chain.seal_results(hashes, seals, rules.signers, now):
                    if isinstance(problem, _sshsig.SignatureError):
                        break
                    # A seal outside any run (the assistant's note) vouches for no line the collection acts on.
                    if runs[number - 1] is not None:
                        covered.update(_chain.witnessed(proved, number, runs))
            self.lines = [line for line in parsed if line["seq"] in covered]
        else:
            self.lines = parsed
        self.untrusted = self.total - len(self.lines)

    def refusal(self, workspace, lang):
        """Why nothing may be acted on from this journal (it breaks at a line: a run opening from its checkpoint does
        not read the lines before it, so the break is found here, where the records are used), or None."""
        if self.broken is None:
            return None
        from ansible_collections.ssot.governance.plugins.module_utils._text import message
        return message(lang, "change.journal_broken", workspace=workspace, line=self.broken)

    def of_kind(self, kind):
        return [line for line in self.lines if line.get("kind") == kind and isinstance(line.get("data"), dict)]

    def rollback(self, subject):
        """{point, fingerprint, done} for the last change of ``subject``, from trusted lines only; each entry has
        the line's ``data``, ``at``, ``run``, ``seq`` and ``hash``."""
        out = {"subject": subject, "point": None, "fingerprint": None, "done": None}
        for line in self.of_kind("rollback"):
            d = line["data"]
            if d.get("subject") != subject or d.get("event") not in _result.ROLLBACK_EVENTS:
                continue
            entry = {"data": d.get("data") if isinstance(d.get("data"), dict) else {}, "at": line.get("ts"),
                     "run": line.get("run"), "seq": line.get("seq"), "hash": line.get("hash")}
            if d["event"] == "point":
                out.update(point=entry, fingerprint=None, done=None)
            elif out["point"] is not None:
                out[d["event"]] = entry
        return out

    def decision(self, decision_id):
        """The last trusted record of a decision, or None."""
        found = None
        for line in self.of_kind("decision"):
            if line["data"].get("id") == decision_id:
                found = line["data"]
        return found

    def manifest(self, folder):
        """The manifest sha256 a trusted line recorded when the snapshot in ``folder`` was taken, or None."""
        found = None
        for line in self.of_kind("result"):
            result = line["data"].get("result")
            if isinstance(result, dict) and result.get("dest") == folder and isinstance(
                    result.get("manifest_sha256"), str):
                found = result["manifest_sha256"]
        return found
