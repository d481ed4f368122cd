# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state a journal describes, and the runbook.json / project-panel.json views of it.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

``State.apply(line)`` folds one journal line into the state in constant time; the same
function serves the live run and the replay of an existing journal, so a view is always
what the journal says. Rendering a view is proportional to the state, and happens only at
boundaries (play start and end, run end, interruption), never per event.
"""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _model
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text

MAX_NEXT_STEPS = 50
# The agent's tool calls kept in runbook.json, and the latest shown on the panel.
MAX_AGENT_CALLS = 200
MAX_PANEL_AGENT_CALLS = 20


_TAGS = ("__items__", "__set__", "__tuple__")


def _tagged(value):
    if isinstance(value, dict):
        # A dict of text keys stays as it is, unless it could read as a tag (a single tag key: then it is tagged too).
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return dict((k, _tagged(v)) for k, v in value.items())
        return {"__items__": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"__set__": [_tagged(v) for v in sorted(value, key=repr)]}
    if isinstance(value, tuple):
        return {"__tuple__": [_tagged(v) for v in value]}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(type(value))  # (never shown: a state that cannot be kept is just not checkpointed)


def _untagged(value):
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "__items__" in value and isinstance(value["__items__"], list):
        return dict((_untagged(k), _untagged(v)) for k, v in value["__items__"])
    if len(value) == 1 and "__set__" in value and isinstance(value["__set__"], list):
        return set(_untagged(v) for v in value["__set__"])
    if len(value) == 1 and "__tuple__" in value and isinstance(value["__tuple__"], list):
        return tuple(_untagged(v) for v in value["__tuple__"])
    return dict((k, _untagged(v)) for k, v in value.items())


class State(object):

    def __init__(self, workspace, language="pt-BR"):
        self.workspace = workspace
        self.language = language
        self.ssot = {"path": None, "digest": None}
        self.environment = None  # the identity the journal's environment line names
        self.run_workspaces = {}  # run -> the workspace folder it recorded from (its run_start)
        self.ssot_map = None
        self.full_map = []
        self.project = {"name": "", "language": language}
        self.references = []
        self.constraints = []
        self.steps = {}            # id -> step dict, plan order
        self.decisions = {}        # id -> decision dict
        self.deviations = {}       # id -> deviation dict
        self.findings = {}         # id -> finding of the last validation
        self.records = {}          # id -> what a run found wrong with the records themselves (shown as findings)
        self.workspace_seen = None  # the folder the last run recorded from (run_start)
        self.observed = {}         # check or finding id -> {status, actual, run} last seen
        self.drift = None          # the changes the last validation found, with its run
        self.checkpoints = []
        self.runs = {}             # id -> run dict
        self.evidences = []
        self.milestones = dict((p, {"status": "pending", "next_steps": [], "updated_at": None})
                               for p in _model.PHASE_NUMBERS)
        self.milestone_fixed = {}  # phase -> status a module set (blocked ...), kept until cleared
        self.play_phases = set()
        self.play_failed_phases = set()
        self.last_seq = 0
        self.last_hash = None
        self.view_sha = {}         # view path -> sha256 of the version last written
        self.run_decisions = {}    # run id -> ids of the decisions recorded in it (the human log)
        self.snapshots = {}        # snapshot path -> what its last verification or restore test said
        self.agent_calls = []      # the agent's tool calls (MCP server, agent/server.py), oldest first

    # --- checkpoint: the folded state as data --------------------------------------------------------------------
    def dump(self):
        """The state as JSON-able data (sets, tuples and dicts with other keys than strings tagged), for a checkpoint:
        ``State.load(dump())`` folds on exactly as this state does."""
        return _tagged(dict(self.__dict__))

    @classmethod
    def load(cls, data, workspace, language):
        """A state from ``dump()``'s data (ValueError when it is not one)."""
        values = _untagged(data)
        if not isinstance(values, dict):
            raise ValueError(type(values))  # (never shown: the checkpoint is not used)
        state = cls(workspace, language)
        unknown = set(values) - set(state.__dict__)
        if unknown:
            raise ValueError(sorted(unknown)[:5])  # another version's state: the checkpoint is not used
        state.__dict__.update(values)
        state.workspace = workspace
        return state

    # --- folding -------------------------------------------------------------
    def apply(self, line):
        kind = line.get("kind")
        handler = getattr(self, "_on_" + str(kind), None)
        self.last_seq = line.get("seq", self.last_seq)
        self.last_hash = line.get("hash", self.last_hash)
        if handler is not None:
            handler(line, line.get("data") or {})

    def _on_environment(self, line, d):
        self.environment = line.get("env")

    def _on_run_start(self, line, d):
        self.runs[line["run"]] = {"id": line["run"], "started_at": line["ts"], "status": "running",
                                  "playbook": d.get("playbook", ""), "user": d.get("user", ""),
                                  "tags": [t for t in d.get("tags") or [] if t != "all"]}
        if isinstance(d.get("workspace"), str):
            self.workspace_seen = d["workspace"]
            self.run_workspaces[line["run"]] = d["workspace"]

    def _on_run_end(self, line, d):
        run = self.runs.get(line["run"])
        if run and run["status"] == "running":
            run.update(status=d.get("status", "ok"), ended_at=line["ts"])

    def _on_run_interrupted(self, line, d):
        run = self.runs.get(d.get("interrupted_run") or line["run"])
        if run:
            run.update(status="interrupted", ended_at=line["ts"], reason=d.get("reason", ""))
            if d.get("during"):
                run["during"] = [x.get("name", "") for x in d["during"] if isinstance(x, dict)]
        finder = self.runs.get(line["run"])
        if finder is not None and run is not None and finder is not run:
            finder["found_interrupted"] = {"run": run["id"], "playbook": run.get("playbook", ""),
                                           "during": run.get("during") or []}
        for step in self.steps.values():
            if step["status"] == "in_progress" and step.get("run_id") == (run or {}).get("id"):
                step["status"] = "failed"
                step["message"] = d.get("reason", "interrupted")
                step["ended_at"] = line["ts"]

    def _on_ssot(self, line, d):
        self.ssot = {"path": d.get("path"), "digest": d.get("digest"),
                     "require_seals": bool(((d.get("map") or {}).get("hitl") or {}).get("require_seals"))}
        self.ssot_map = d.get("map")
        self.full_map = d.get("full_map") or []
        meta = (self.ssot_map or {}).get("metadata") or {}
        self.language = d.get("language") or self.language
        self.project = {"name": meta.get("name", ""), "language": self.language}
        if meta.get("owner"):
            self.project["owner"] = meta["owner"]
        self.references = [dict((k, v) for k, v in r.items() if k in ("url", "title", "note"))
                           for r in (self.ssot_map or {}).get("references") or [] if isinstance(r, dict)]
        self.constraints = d.get("constraints") or []

    def _on_play_start(self, line, d):
        self.play_phases = set()
        self.play_failed_phases = set()
        for planned in d.get("plan", []):
            step = self.steps.get(planned["id"])
            if step is None:
                step = {"id": planned["id"], "name": planned["name"], "status": "pending"}
                self.steps[planned["id"]] = step
            step.update(play=d.get("play", ""), role=planned.get("role"), phase=planned.get("phase"))

    def _on_task_start(self, line, d):
        step = self.steps.setdefault(d["step"], {"id": d["step"], "name": d.get("name", ""), "status": "pending"})
        step.update(status="in_progress", run_id=line["run"], started_at=line["ts"], hosts={}, evidence=[],
                    play=d.get("play", step.get("play", "")), role=d.get("role"), phase=d.get("phase"))
        step.pop("ended_at", None)
        step.pop("message", None)
        phase = d.get("phase")
        if phase is not None:
            self.play_phases.add(phase)
            if self.milestones[phase]["status"] in ("pending", "done", "failed"):
                self._milestone(phase, "in_progress", line["ts"])

    def _on_result(self, line, d):
        step = self.steps.get(d.get("step"))
        if step is None:
            return
        step.setdefault("hosts", {})[d["host"]] = d["status"]
        if d["status"] in ("failed", "unreachable") and not d.get("ignored"):
            if d.get("msg"):
                step["message"] = "%s: %s" % (d["host"], d["msg"])
            if step.get("phase") is not None:
                self.play_failed_phases.add(step["phase"])

    def _on_step_end(self, line, d):
        step = self.steps.get(d.get("step"))
        if step is not None:
            step.update(status=d["status"], ended_at=line["ts"])

    def _on_evidence(self, line, d):
        step = self.steps.get(d.get("step"))
        self.evidences.append({"title": d.get("name", d["path"]), "path": d["path"], "sha256": d["sha256"],
                               "run_id": line["run"], "at": line["ts"],
                               "phase": step.get("phase") if step is not None else None})
        if step is not None:
            step.setdefault("evidence", []).append(d["path"])

    def _on_decision(self, line, d):
        current = self.decisions.get(d["id"], {})
        current.update(d)
        current.setdefault("raised_at", line["ts"])
        current.setdefault("run_id", line["run"])
        self.decisions[d["id"]] = current
        seen = self.run_decisions.setdefault(line["run"], [])
        if d["id"] not in seen:
            seen.append(d["id"])

    def _on_snapshot(self, line, d):
        if d.get("path"):
            path = d["path"]
            if self.workspace and path.startswith(self.workspace.rstrip("/") + "/"):
                path = path[len(self.workspace.rstrip("/")) + 1:]
            current = self.snapshots.setdefault(path, {"path": path})
            current.update((k, v) for k, v in d.items() if k in ("status", "files", "restore", "recipe"))
            current.update(at=line["ts"], run_id=line["run"])

    def _on_deviation(self, line, d):
        self.deviations[d["id"]] = d

    def _on_deviation_cleared(self, line, d):
        self.deviations.pop(d["id"], None)

    def _on_findings(self, line, d):
        self.findings = dict((f["id"], f) for f in d.get("findings") or [])

    def _on_observed(self, line, d):
        group = d.get("group")
        if isinstance(group, str) and group:
            for key in [k for k in self.observed if k.startswith(group)]:
                del self.observed[key]
        for v in d.get("values") or []:
            # Only what the recorder writes (an id as text): a line shaped otherwise folds nothing.
            if isinstance(v, dict) and isinstance(v.get("id"), str):
                self.observed[v["id"]] = {"status": v.get("status"), "actual": v.get("actual"), "run": line["run"]}

    def _on_drift(self, line, d):
        if self.drift is not None and self.drift["run_id"] == line["run"]:
            self.drift["changes"].extend(d.get("changes") or [])
            self.drift["at"] = line["ts"]
        else:
            self.drift = {"run_id": line["run"], "at": line["ts"], "changes": list(d.get("changes") or [])}

    def drift_against(self, values, group=None):
        """What differs between ``values`` and the last observed ones (only ids seen before count, except in a
        ``group`` of ids replaced whole, such as findings, where appearing and disappearing are changes too).
        Returns (changes, compared): compared is false when nothing of ``values`` was seen before."""
        changes = []
        seen_group = bool(group) and any(k.startswith(group) for k in self.observed)
        compared = seen_group
        new_ids = set()
        for v in values:
            new_ids.add(v["id"])
            before = self.observed.get(v["id"])
            after = {"status": v.get("status"), "actual": v.get("actual")}
            if before is None:
                if seen_group:
                    changes.append({"id": v["id"], "before": None, "after": after, "since_run": None})
                continue
            compared = True
            if (before["status"], before["actual"]) != (after["status"], after["actual"]):
                changes.append({"id": v["id"], "before": {"status": before["status"], "actual": before["actual"]},
                                "after": after, "since_run": before["run"]})
        if seen_group:
            for key, before in self.observed.items():
                if key.startswith(group) and key not in new_ids:
                    changes.append({"id": key, "before": {"status": before["status"], "actual": before["actual"]},
                                    "after": None, "since_run": before["run"]})
        return changes, compared

    def _on_milestone(self, line, d):
        phase = d["phase"]
        if d.get("status") in (None, "", "clear"):
            self.milestone_fixed.pop(phase, None)
        else:
            self.milestone_fixed[phase] = d["status"]
            self._milestone(phase, d["status"], line["ts"])
        self.milestones[phase]["next_steps"] = list(d.get("next_steps") or [])
        # A module may name what the blocked milestone waits for ("Disponibilizar fonte de dados").
        self.milestones[phase]["title"] = d.get("title") if d.get("status") not in (None, "", "clear") else None

    def _on_play_end(self, line, d):
        for phase in self.play_phases:
            status = "failed" if phase in self.play_failed_phases else "done"
            self._milestone(phase, self.milestone_fixed.get(phase, status), line["ts"])

    def _on_view(self, line, d):
        self.view_sha[d["path"]] = d["sha256"]

    def _record_problem(self, line, code, severity, **params):
        """A problem with the records a run found when it opened: kept for good in the views (as a finding)."""
        self.records["records.%s.%d" % (code, line.get("seq", 0))] = {
            "id": "records.%s.%d" % (code, line.get("seq", 0)), "code": code, "severity": severity,
            "title": text(self.language, "records.%s.title" % code, **params),
            "explanation": text(self.language, "records.%s.explanation" % code, line=line.get("seq", 0),
                                run=line.get("run") or "-", **params)}

    def _on_records_elsewhere(self, line, d):
        self._record_problem(line, "records_elsewhere", "medium", previous=d.get("previous"), now=d.get("now"),
                             namespace=d.get("namespace"))

    def _on_journal_unsealed(self, line, d):
        self._record_problem(line, "journal_unsealed", "high", first=d.get("from"), last=d.get("upto"),
                             runs=", ".join(str(r) for r in d.get("runs") or []) or "-")

    def _on_view_altered(self, line, d):
        self._record_problem(line, "view_altered", "high", path=d.get("path"), kept=d.get("kept_as") or "-")

    def _on_view_missing(self, line, d):
        self._record_problem(line, "view_missing", "high", path=d.get("path"))
        self.view_sha.pop(d.get("path"), None)  # said once; the run rebuilds it (or verify keeps naming it)

    def _on_agent_call(self, line, d):
        call = {"at": line["ts"], "client": d.get("client", ""), "tool": d.get("tool", ""),
                "arguments": d.get("arguments") or {}, "result": d.get("result", "")}
        if d.get("run"):
            call["run"] = d["run"]
        self.agent_calls = (self.agent_calls + [call])[-MAX_AGENT_CALLS:]

    def _on_checkpoint(self, line, d):
        self.checkpoints.append({"id": d["id"], "run_id": line["run"], "play": d.get("play", ""), "at": line["ts"],
                                 "artifacts": d.get("artifacts", []), "next_steps": d.get("next_steps", [])})

    def _milestone(self, phase, status, ts):
        self.milestones[phase].update(status=status, updated_at=ts)

    # --- questions the recorder asks -----------------------------------------
    def unterminated_run(self):
        for run in reversed(list(self.runs.values())):
            return run["id"] if run["status"] == "running" else None
        return None

    def pending_decisions(self):
        return [d for d in self.decisions.values() if d.get("status") == "pending"]

    def next_steps(self):
        lang = self.language
        out = []
        for step in self.steps.values():
            if step["status"] == "failed":
                host_msg = step.get("message", "")
                host, dummy, msg = host_msg.partition(": ")
                out.append(text(lang, "next.failed_step", step=step["name"], host=host or "-", msg=msg[:200] or "-"))
        for dec in self.pending_decisions():
            out.append(text(lang, "next.pending_decision", id=dec["id"], title=dec.get("title", "")))
        for phase, status in sorted(self.milestone_fixed.items()):
            if status == "blocked":
                out.append(text(lang, "next.blocked_milestone",
                                title=self.milestones[phase].get("title") or text(lang, _model.milestone_key(phase))))
                out.extend(self.milestones[phase]["next_steps"])
        for run in self.runs.values():
            if run["status"] == "interrupted" and run["id"] == self._last_run_id():
                out.append(text(lang, "next.interrupted", run=run["id"], reason=run.get("reason", "")))
        return out[:MAX_NEXT_STEPS]

    def _last_run_id(self):
        return next(reversed(list(self.runs))) if self.runs else None

    # --- views ---------------------------------------------------------------
    def runbook(self, generated_at):
        ssot = {"path": self.ssot["path"] or "", "digest": self.ssot["digest"]}
        if self.ssot_map is not None:
            ssot["map"] = self.ssot_map
        if self.full_map:
            ssot["full_map"] = self.full_map
        steps = []
        for s in self.steps.values():
            step = dict((k, v) for k, v in s.items() if v is not None and v != {} and v != [])
            step.setdefault("status", "pending")
            steps.append(step)
        decisions = []
        for d in self.decisions.values():
            decisions.append(dict((k, v) for k, v in d.items() if k in DECISION_KEYS and v is not None))
        runs = [dict((k, v) for k, v in r.items() if k in RUN_KEYS and v not in (None, "")) for r in self.runs.values()]
        doc = {
            "schema_version": 1,
            "generated_at": generated_at,
            "workspace": self.workspace,
            "ssot": ssot,
            "constraints": self.constraints,
            "decisions": decisions,
            "steps": steps,
            "checkpoints": self.checkpoints,
            "runs": runs,
            "journal": {"path": "journal.jsonl", "last_seq": self.last_seq, "last_hash": self.last_hash or ""},
        }
        if self.environment:
            doc["journal"]["environment"] = self.environment
        if self.records:
            doc["records"] = list(self.records.values())
        if self.agent_calls:
            doc["agent_calls"] = self.agent_calls
        return doc

    def panel(self, generated_at):
        pending = self.pending_decisions()
        milestones = []
        for phase in _model.PHASE_NUMBERS:
            m = self.milestones[phase]
            entry = {"id": "phase-%d" % phase, "phase": phase,
                     "title": m.get("title") or text(self.language, _model.milestone_key(phase)),
                     "status": m["status"],
                     "decisions_pending": [d["id"] for d in pending if d.get("phase") == phase]}
            if m["next_steps"]:
                entry["next_steps"] = m["next_steps"]
            if m["updated_at"]:
                entry["updated_at"] = m["updated_at"]
            if entry["decisions_pending"] and entry["status"] not in ("failed",):
                entry["status"] = "blocked"
            milestones.append(entry)
        panel = {
            "schema_version": 1,
            "generated_at": generated_at,
            "project": self.project,
            "ssot": {"path": self.ssot["path"] or "", "digest": self.ssot["digest"]},
            "milestones": milestones,
            "decisions_pending": [dict({"id": d["id"], "title": d.get("title", ""),
                                        "how_to_approve": d.get("how_to_approve", "approvals.yml")},
                                       **({"refusals": list(d["refusals"])} if d.get("refusals") else {}))
                                  for d in pending],
            "deviations": list(self.deviations.values()),
            "findings": list(self.findings.values()) + list(self.records.values()),
            "evidences": self.evidences,
            "references": self.references,
            "snapshots": list(self.snapshots.values()),
        }
        if self.drift is not None:
            panel["drift"] = dict(self.drift, title=text(self.language, "validate.drift.title"))
        if self.full_map:
            panel["ssot_full_map"] = self.full_map
        if self.agent_calls:
            panel["agent_calls"] = self.agent_calls[-MAX_PANEL_AGENT_CALLS:]
        return panel


DECISION_KEYS = ("id", "title", "context", "facts", "options", "risk", "rollback", "ssot_digest", "environment",
                 "host", "status", "raised_at", "run_id", "phase", "answer", "refusals")
RUN_KEYS = ("id", "started_at", "ended_at", "status", "during", "playbook", "user", "ssot_digest")
