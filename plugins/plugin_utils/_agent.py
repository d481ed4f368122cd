# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an assistant beside the operator may do with a workspace: read, validate, verify, explain, draft.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side). The MCP server
(``agent/server.py``) is the only caller; it adds the protocol, nothing else.

The assistant never approves, signs, writes ``approvals.yml``, runs a play that changes anything or passes tags:
there is no function here that could. What it reads comes from the records (already redacted by the recorder) and
goes through a redactor that knows the values behind the SSOT's secret references before it leaves. Each tool call is
recorded in the workspace's journal (``agent_call``), so the panel shows what the assistant did.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _ssot
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _card, _guard, _human, _policy, _store, _trust, _verified
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, RecorderError, WorkspaceBusy
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor
from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import Folder, WorkspaceUnsafe, _parts

# What may be read: the views, the checklist, the journal, and the files under these folders.
READABLE = ("runbook.json", "project-panel.json", _human.PANEL_HTML, _human.CHECKLIST, "journal.jsonl")
READABLE_FOLDERS = ("evidence", "logs")
# The only plays the assistant runs: read-only by construction, no tags, no other extra var.
PLAYBOOKS = {"run_validate": "ssot.governance.validate", "run_verify": "ssot.governance.verify"}
# The tools of the MCP server and the only arguments each takes (the server refuses any other, before the tool runs).
TOOL_ARGUMENTS = {
    "status": {"environment"},
    "explain_decision": {"environment", "decision"},
    "run_validate": {"environment"},
    "run_verify": {"environment"},
    "draft_approval": {"environment", "decision", "option"},
}
JOURNAL_TAIL = 50
RECORD_WAIT = 10.0   # seconds a tool call waits for a run holding the workspace before its record is kept for later


class AgentError(Exception):
    """An anticipated refusal, as the operator's message (catalog key ``agent.*``)."""

    def __init__(self, lang, code, **params):
        super(AgentError, self).__init__(message(lang, code, **params))


def _one_line(value, limit=300):
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Environment(object):
    """One governed environment: a name and its workspace folder (on the controller)."""

    def __init__(self, name, workspace):
        self.name = name
        self.workspace = os.path.realpath(os.path.expanduser(workspace))
        self.ssot_path = os.path.join(self.workspace, "ssot.yml")
        self.redactor = Redactor(environ=os.environ)
        kind, dsn_env = _store.configured()
        if kind == "postgresql":
            self.redactor.learn(_store.dsn_secrets(dsn_env))  # the records store's password never leaves either
        try:
            self.ssot()  # the values behind the SSOT's secret references, learned before anything is read
        except AgentError:
            pass  # said again by the call that needs the SSOT

    # --- reading -------------------------------------------------------------
    @property
    def language(self):
        try:
            return operator_language(self.ssot()["language"])
        except AgentError:
            return operator_language()

    def ssot(self):
        """The SSOT loaded and checked as the ssot role loads it: normalized, with its digest. Its secret references
        are learned by the redactor (the values behind them never leave)."""
        try:
            loaded = _ssot.load_valid(self.ssot_path)
        except _ssot.SSOTError as exc:
            raise AgentError(operator_language(), "agent.ssot_invalid", environment=self.name,
                             error=_one_line(exc.render(), 600))
        self.redactor.learn_references(loaded["ssot"])
        return loaded

    def read(self, rel):
        """The bytes of a recorded file of the workspace; AgentError for anything outside what may be read."""
        lang = operator_language()
        if not isinstance(rel, str) or "\x00" in rel or os.path.isabs(rel):
            raise AgentError(lang, "agent.outside", environment=self.name, path=_one_line(rel, 200))
        try:
            parts = _parts(rel)
        except WorkspaceUnsafe:
            raise AgentError(lang, "agent.outside", environment=self.name, path=_one_line(rel, 200))
        clean = "/".join(parts)
        if clean not in READABLE and not (parts[0] in READABLE_FOLDERS and len(parts) > 1):
            raise AgentError(lang, "agent.not_readable", environment=self.name, path=clean,
                             readable=", ".join(READABLE + tuple(f + "/..." for f in READABLE_FOLDERS)))
        try:
            return _store.read_file(self.workspace, clean, lang)
        except WorkspaceUnsafe:
            raise AgentError(lang, "agent.outside", environment=self.name, path=clean)
        except FileNotFoundError:
            raise AgentError(lang, "agent.not_found", environment=self.name, path=clean)
        except (OSError, _store.StoreError) as exc:
            raise AgentError(lang, "agent.unreadable", environment=self.name, path=clean, error=_one_line(exc))

    def text(self, rel):
        """A recorded file as text, masked once more on the way out."""
        return self.redactor.text(self.read(rel).decode("utf-8", "replace"))

    def view(self, name):
        try:
            return json.loads(self.read(name).decode("utf-8"))
        except ValueError as exc:
            raise AgentError(operator_language(), "agent.unreadable", environment=self.name, path=name,
                             error=_one_line(exc))

    def journal_tail(self, count=JOURNAL_TAIL):
        lines = self.text("journal.jsonl").splitlines()
        return [json.loads(line) for line in lines[-count:] if line.strip()]

    def listing(self, folder):
        """The files under ``evidence`` or ``logs`` (relative paths), newest run last."""
        if folder not in READABLE_FOLDERS:
            raise AgentError(operator_language(), "agent.not_readable", environment=self.name, path=folder,
                             readable=", ".join(READABLE_FOLDERS))
        if _store.configured()[0] != "files":
            # A database store: what the views name (every evidence file; a log per run).
            if folder == "logs":
                return ["logs/%s.log" % r["id"] for r in self.view("runbook.json").get("runs") or []]
            panel = self.view("project-panel.json")
            return [e["path"] for e in panel.get("evidences") or [] if e.get("path", "").startswith(folder + "/")]
        try:
            ws = Folder(self.workspace, create=False)
        except OSError:
            return []
        try:
            return ws.walk(folder)
        except WorkspaceUnsafe as exc:
            raise AgentError(operator_language(), "agent.outside", environment=self.name, path=exc.rel)
        finally:
            ws.close()

    # --- the tools -------------------------------------------------------------
    def status(self):
        """Milestones, pending decisions, deviations, last runs and next steps, from the views."""
        lang = self.language
        runbook, panel = self.view("runbook.json"), self.view("project-panel.json")
        checkpoints = runbook.get("checkpoints") or []
        runs = runbook.get("runs") or []
        pending = panel.get("decisions_pending") or []
        out = {
            "environment": self.name,
            "workspace": self.workspace,
            "language": lang,
            "ssot": {"path": (panel.get("ssot") or {}).get("path"), "digest": (panel.get("ssot") or {}).get("digest")},
            "milestones": [{"phase": m["phase"], "title": m["title"], "status": m["status"],
                            "decisions_pending": m.get("decisions_pending") or []}
                           for m in panel.get("milestones") or []],
            "pending_decisions": pending,
            "deviations": panel.get("deviations") or [],
            "last_runs": runs[-5:],
            "next_steps": list(dict.fromkeys((checkpoints[-1].get("next_steps") if checkpoints else []) or [])),
        }
        lines = [message(lang, "agent.status.head", environment=self.name, digest=out["ssot"]["digest"] or "-")]
        lines += [message(lang, "agent.status.milestone", phase=m["phase"], title=m["title"],
                          status=message(lang, "status.%s" % m["status"]) if m["status"] else "-")
                  for m in out["milestones"]]
        lines.append(message(lang, "agent.status.pending", count=len(pending)))
        lines += ["  - %s: %s" % (d["id"], d.get("title", "")) for d in pending]
        if runs:
            last = runs[-1]
            lines.append(message(lang, "agent.status.last_run", run=last["id"], playbook=last.get("playbook") or "-",
                                 status=last.get("status") or "-"))
        lines += ["  > %s" % step for step in out["next_steps"]]
        out["summary"] = "\n".join(lines)
        return self.redactor.value(out)

    def rules(self):
        """The trust root as this environment's SSOT narrows it (the same rules the gate applies)."""
        return _trust.rules_for(self.ssot()["ssot"], self.workspace, self.workspace, self.language)

    def decision(self, decision_id):
        """The decision as the journal recorded it - only lines whose chain holds and that a valid seal covers, never a
        view file (an edited runbook.json shows nothing here)."""
        journal = _verified.Journal(self.workspace, self.rules(), self.language)
        found = journal.decision(decision_id) if isinstance(decision_id, str) else None
        if found is None or not _decisions.consistent(
                dict((k, v) for k, v in found.items() if k not in ("status", "answer"))):
            raise AgentError(self.language, "agent.no_decision", environment=self.name,
                             id=_one_line(decision_id, 200))
        return found

    def explain(self, decision_id):
        """The decision's card (context, options, risk, rollback) and the SSOT sections it concerns."""
        lang = self.language
        d = self.decision(decision_id)
        runbook = self.view("runbook.json")
        sections = _sections_about(d, (runbook.get("ssot") or {}).get("full_map") or [], self._prose())
        card = _card.render(d, _store.namespace_of(self.workspace), d.get("host") or "localhost", lang)
        out = {"environment": self.name, "decision": d, "card": card, "ssot_sections": sections,
               "how_to_approve": self._how_to_approve(d),
               "summary": message(lang, "agent.explained", id=d["id"], title=d.get("title", ""),
                                  status=d.get("status") or "-")}
        return self.redactor.value(out)

    def _prose(self):
        for name in ("book-run.txt", "book-run.md"):
            path = os.path.join(self.workspace, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, encoding="utf-8", errors="replace") as fh:
                    return fh.read().splitlines()
        return []

    def _signed(self):
        return self.rules().require_signatures

    def _how_to_approve(self, d):
        lang = self.language
        if self._signed():
            return message(lang, "hitl.sign.use_approve", id=d["id"], workspace=self.workspace)
        return message(lang, "agent.how_unsigned", file=os.path.join(self.workspace, "approvals.yml"))

    def draft(self, decision_id, option):
        """The approvals.yml entry a human reviews and signs - written nowhere."""
        lang = self.language
        d = self.decision(decision_id)
        offered = [o for dummy, o, dummy in _card.options(d, lang)] + [_decisions.REJECT_OPTION]
        if option not in offered:
            raise AgentError(lang, "agent.no_option", id=d["id"], option=_one_line(option, 100),
                             options=", ".join(offered))
        if d.get("status") != _decisions.PENDING:
            raise AgentError(lang, "agent.not_pending", id=d["id"], status=d.get("status") or "-")
        # A draft never counts: marked as one, with the approver's name and reason left as placeholders.
        entry = "approvals:\n" + _policy.paste_entry(d, _store.namespace_of(self.workspace), d.get("host") or "localhost",
                                                     option, lang) + "    draft: true\n"
        out = {"environment": self.name, "decision": d["id"], "option": option, "entry": entry,
               "signed": self._signed(), "how_to_approve": self._how_to_approve(d),
               "note": message(lang, "agent.draft_note"),
               "summary": message(lang, "agent.drafted", id=d["id"], option=option)}
        return self.redactor.value(out)

    # --- running the read-only plays ----------------------------------------------
    def run(self, tool, on_task=None):
        """Run the validate or verify playbook through ansible-runner, as AWX would: no terminal (a decision gate
        fails closed), no tags, no extra var but the workspace. Returns the run's summary from the views."""
        import ansible_runner  # the controller's; imported here so that reading needs nothing more

        lang = self.language
        playbook = PLAYBOOKS[tool]
        try:
            before = set(r["id"] for r in self.view("runbook.json").get("runs") or [])
        except AgentError:
            before = set()  # no run recorded yet
        # ansible-playbook beside this Python (the runner finds it on PATH).
        env = {"SSOT_NONINTERACTIVE": "1",
               "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
        config = os.path.join(self.workspace, "ansible.cfg")
        if "ANSIBLE_CONFIG" not in os.environ and os.path.isfile(config):
            env["ANSIBLE_CONFIG"] = config
        tasks = []

        def handler(event):
            if event.get("event") == "playbook_on_task_start" and on_task is not None:
                name = (event.get("event_data") or {}).get("task") or ""
                tasks.append(name)
                on_task(len(tasks), self.redactor.text(name))
            return True

        with tempfile.TemporaryDirectory(prefix="ssot-agent-") as data:
            # A private data dir as AWX lays one out: the project holds one playbook importing the collection's,
            # under the collection playbook's own name (the run is recorded as validate.yml / verify.yml).
            entry = playbook.rsplit(".", 1)[-1] + ".yml"
            os.makedirs(os.path.join(data, "project"))
            with open(os.path.join(data, "project", entry), "w") as fh:
                fh.write("- name: %s\n  ansible.builtin.import_playbook: %s\n" % (playbook, playbook))
            result = ansible_runner.run(private_data_dir=data, playbook=entry,
                                        extravars={"ssot_workspace": self.workspace}, envvars=env,
                                        event_handler=handler, quiet=True, timeout=3600)
        runs = [r for r in self.view("runbook.json").get("runs") or [] if r["id"] not in before]
        run = runs[-1] if runs else {}
        panel = self.view("project-panel.json")
        out = {"environment": self.name, "playbook": playbook, "rc": result.rc, "status": result.status,
               "run": run.get("id"), "run_status": run.get("status"),
               "pending_decisions": panel.get("decisions_pending") or [],
               "evidence": "evidence/%s/" % run["id"] if run else None,
               "log": "logs/%s.log" % run["id"] if run else None, "tasks": len(tasks)}
        out["summary"] = message(lang, "agent.run.summary", playbook=playbook, run=run.get("id") or "-",
                                 status=run.get("status") or result.status, count=len(out["pending_decisions"]),
                                 evidence=out["evidence"] or "-")
        return self.redactor.value(out)

    # --- the record of each call -------------------------------------------------
    def _pin(self):
        """The identity the workspace's SSOT pins, read as a run reads it (the records must be that environment's)."""
        try:
            return _guard.environment_pin(self.workspace)
        except _guard.PinError as exc:
            raise AgentError(self.language, "agent.not_recorded", environment=self.name,
                             error=_one_line(message(self.language, exc.key, workspace=self.workspace, **exc.params)))

    def record(self, client, tool, arguments, result, run=None):
        """Write the call into the workspace's journal (agent_call); True once written, False when a run held the
        workspace past RECORD_WAIT (the caller keeps it and tries again with the next call)."""
        kind, dsn_env = _store.configured()
        data = {"client": _one_line(client or "-", 120), "tool": tool, "arguments": arguments,
                "result": _one_line(result)}
        if run:
            data["run"] = run
        deadline = time.time() + RECORD_WAIT
        while True:
            recorder = Recorder(self.workspace, self.language, redactor=self.redactor,
                                seal_key=os.environ.get("SSOT_SEAL_KEY") or None, store=kind, dsn_env=dsn_env,
                                environment=self._pin())
            try:
                recorder.note("agent_call", data, holder="agent %s" % data["client"])
                return True
            except WorkspaceBusy:
                if time.time() > deadline:
                    return False
                time.sleep(0.5)
            except RecorderError as exc:
                raise AgentError(self.language, "agent.not_recorded", environment=self.name, error=_one_line(exc))


def _sections_about(decision, full_map, prose):
    """The sections of the prose SSOT that mention what the decision is about (its subject words)."""
    words = [w for w in decision.get("id", "").split(".")[1:-1] if len(w) > 2]
    found = []
    for section in full_map:
        first, last = (section.get("lines") or [0, 0])[:2]
        body = "\n".join(prose[max(first - 1, 0):last])
        if words and any(w.lower() in body.lower() for w in words):
            found.append({"id": section.get("id"), "heading": section.get("heading"), "lines": section.get("lines"),
                          "text": body})
    return found


def environments(specs):
    """NAME=FOLDER or FOLDER (named after it) -> {name: Environment}; AgentError on a duplicate or a missing folder."""
    lang = operator_language()
    out = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            name, folder = os.path.basename(os.path.normpath(spec)), spec
        if not name or name in out:
            raise AgentError(lang, "agent.bad_environment", spec=spec)
        if not os.path.isdir(folder):
            raise AgentError(lang, "agent.no_workspace", spec=spec)
        out[name] = Environment(name, folder)
    if not out:
        raise AgentError(lang, "agent.no_environment")
    return out
