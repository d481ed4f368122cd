# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssot.governance.runbook_verify runs here, on the controller, in ansible-playbook's own process: the records of a
workspace folder or of the postgresql store re-walked, their seals checked against the trust root (as the SSOT
narrows it) unless the auditor gives their own allowed-signers file (plugin_utils/_store.py, docs/security.md)."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain, _decisions, _ssot, _sshsig
from ansible_collections.ssot.governance.plugins.module_utils._text import operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _guard, _heads, _runctx, _store, _trust, _verified


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("workspace", "allowed_signers", "require_seals", "fail_on_problem", "language",
                             "ssot_file", "expect_head"))

    def _rules(self, workspace, ssot_file, lang):
        """The signers and whether seals are required: the trust root as the workspace's SSOT narrows it (an SSOT that
        does not load leaves the root as it is); and the SSOT's digest now (None when it does not load)."""
        path, why = _guard.ssot_path(workspace, ssot_file)
        ssot, self._ssot_digest = {}, None
        if not why:
            try:
                loaded = _ssot.load_valid(path)
                ssot, self._ssot_digest = loaded["ssot"], loaded["digest"]
            except _ssot.SSOTError:
                ssot = {}
        # The identity the SSOT pins, read as the run's recorder reads it (whatever else in the SSOT fails to load).
        try:
            source, pinned = _guard.environment_pin(workspace, ssot_file)
        except _guard.PinError as exc:
            source, pinned = None, None
            self._pin_error = _chain.message(lang, exc.key, workspace=workspace, **exc.params)
        self._pins = [("metadata.id (%s)" % source, pinned)] if pinned else []
        return _trust.rules_for(ssot, os.path.dirname(path) if path else workspace, workspace, lang)

    def _governed(self, workspace, rules, lang, open_run):
        """What changed since it governed a change, from the journal's trusted decision lines: approvals.yml entries
        an answer came from that it no longer holds as they were (problems), and an SSOT other than the one the last
        settled decision was made under (a note: re-specifying is how the next change starts)."""
        problems, notes = [], []
        journal = _verified.Journal(workspace, rules, lang)
        decided = [line for line in journal.of_kind("decision") if line.get("run") != open_run
                   and line["data"].get("status") in ("approved", "rejected")]
        try:
            held = set(_decisions.entry_digest(e) for e in _decisions.load_approvals(
                os.path.join(workspace, "approvals.yml"), lang))
        except _decisions.ApprovalError as exc:
            held = None
            problems.append({"kind": "approvals_unreadable", "where": "approvals.yml", "detail": str(exc)})
        seen = set()
        unbound = [line for line in decided if not (line["data"].get("answer") or {}).get("entry_sha256")]
        if unbound:
            # Recorded before answers kept their entry's digest (or given as an extra var, at a terminal).
            notes.append(_chain.message(lang, "verify.approvals_unbound", count=len(unbound)))
        for line in decided:
            answer = line["data"].get("answer") or {}
            digest = answer.get("entry_sha256")
            if held is None or not digest or digest in held or digest in seen:
                continue
            seen.add(digest)
            problems.append({"kind": "approval_changed", "where": "approvals.yml", "detail": _chain.message(
                lang, "verify.detail.approval_changed", id=line["data"].get("id"), by=answer.get("by", "-"),
                at="%s:%d" % (_chain.JOURNAL, line["seq"]))})
        if decided and self._ssot_digest and decided[-1]["data"].get("ssot_digest") not in (None, self._ssot_digest):
            notes.append(_chain.message(lang, "verify.ssot_changed", digest=decided[-1]["data"]["ssot_digest"],
                                        at="%s:%d" % (_chain.JOURNAL, decided[-1]["seq"]), now=self._ssot_digest))
        return problems, notes

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        lang = operator_language(args.get("language"))
        workspace = os.path.realpath(os.path.expanduser(str(args.get("workspace") or "")))
        given = args.get("allowed_signers")
        require = str(args.get("require_seals", False)).lower() in ("true", "yes", "1")
        self._pin_error = None
        rules = self._rules(workspace, args.get("ssot_file"), lang)
        if self._pin_error:
            return dict(result, failed=True, msg=self._pin_error)
        if given:
            # The auditor's own copy of the root, kept outside the workspace: seals are then required.
            signers, require = given, True
        else:
            signers, require = (rules.signers or None), require or rules.require_seals
            if rules.root is None and rules.error:
                result.setdefault("notes", []).append(rules.error)
        kind, dsn_env = _store.configured()
        # This run's own lines at the end are the only ones not sealed yet (none when no recorder runs here).
        # A head kept outside the workspace (given, or the newest the heads log holds) the journal must still hold.
        expected, forged = [], []
        if args.get("expect_head"):
            expected.append(("verify_expect_head", args["expect_head"]))
        heads_log = rules.root.heads_log if rules.root is not None else None
        try:
            if heads_log:
                held, forged = _heads.logged(heads_log, _heads.identity(workspace, kind,
                                                                        _store.namespace_of(workspace)), signers,
                                             lang=lang)
                # Every head ever logged: a journal only grows (a run that appended on a rolled-back copy does not
                # hide the heads before it).
                expected.extend(("%s #%d" % (heads_log, n), _chain.format_head(h["seq"], h["hash"]))
                                for n, h in enumerate(held, 1))
                latest = _chain.format_head(held[-1]["seq"], held[-1]["hash"]) if held else None
                result["heads_log"] = {"path": heads_log, "heads": len(held), "latest": latest}
                # The environment the newest signed head was logged for: records of another are not its records.
                if held and held[-1].get("env"):
                    self._pins.append((heads_log, held[-1]["env"]))
            opts = {"open_run": _runctx.run_of(workspace), "lang": lang, "expect_heads": expected,
                    "expect_env": self._pins}
            if kind == "files":
                report = _chain.verify(workspace, signers, require, **opts)
            else:
                store = _store.PgStore(workspace, dsn_env, lang)
                try:
                    report = _store.verify(store, signers, require, **opts)
                finally:
                    store.release()
        except (_store.StoreError, OSError, _sshsig.SignatureError, _heads.HeadsError) as exc:
            return dict(result, failed=True, msg=exc.render(lang) if isinstance(exc, _sshsig.SignatureError)
                        else str(exc))
        report["problems"][:0] = [{"kind": "head_forged", "where": "%s:%d" % (heads_log, number),
                                   "detail": _chain.message(lang, "verify.detail.head_forged", why=why)}
                                  for number, why in forged]
        # Whatever else is wrong: from the lines still trusted (chained up to any break, sealed by their own run).
        governed, notes = self._governed(workspace, rules, lang, opts["open_run"])
        report["problems"].extend(governed)
        if notes:
            result.setdefault("notes", []).extend(notes)
        report["ok"] = not report["problems"]
        result.update(report, changed=False)
        fail = args.get("fail_on_problem", True)
        if report["problems"] and fail not in (False, "false", "no", "False"):
            result.update(failed=True, msg=_chain.problem_message(report, lang))
        return result
