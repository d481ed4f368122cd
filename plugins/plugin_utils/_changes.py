# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every change the collection makes, and every rollback, applied by this code after it checked the approval itself
(docs/security.md).

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A change kind is one entry of ``KINDS``: how to observe what deviates, which decisions it answers (and the options
that let it act), how to apply it and verify it, and how to undo it. Each runs inside the ``ssot.governance.change``
action, on the controller, from what the controller read at that moment: the SSOT in force (its workspace's own
file), the approvals and the trust root (``_gate.Context``), what the target reports now (modules run there, as
observations), and - for a rollback - only journal lines whose chain holds and that a valid seal covers
(``_verified.Journal``), checked against a strict shape that never carries a path or a command. No variable, fact,
task order or tag reaches an apply step without that check, and in check mode none is reached at all.

Every step leaves its evidence in the result; the rollback point of a change is returned before it can be needed
(a failed apply still carries it), and a rollback is a change: it answers its own decision
(``rollback.<subject>.<hex>``, options ``rollback`` / ``keep``) whose card shows what it restores.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import time

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _pgdata, _result, _schemas
from ansible_collections.ssot.governance.plugins.module_utils._text import message, rendered
from ansible_collections.ssot.governance.plugins.plugin_utils import _gate, _plan, _verified

PG_QUERY = "community.postgresql.postgresql_query"
PG_SET = "community.postgresql.postgresql_set"
PG_PING = "community.postgresql.postgresql_ping"
CONTAINER = "community.docker.docker_container"
CONTAINER_INFO = "community.docker.docker_container_info"
WORKSPACE_LABEL = "io.ssot-governance.workspace"
RENAME = "ssot.governance.container_rename"
# The strict shapes of rollback data (a journal line is data someone could have written).
_NAME = re.compile(r"^[a-z_][a-z0-9_.]{0,62}$")
_STAMP = re.compile(r"^\d{8}T\d{6}Z$")
_PUBLISHED = re.compile(r"^[0-9a-fA-F.:\[\]]{1,64}:\d{1,5}$")
VALUE_LIMIT = 1024
HBA_LIMIT = 256 * 1024
SETTINGS_CONTEXTS = ("postmaster", "sighup", "superuser", "user", "backend", "superuser-backend", "internal")


class ChangeFailed(Exception):
    """The change stops here; ``msg`` says why and what to do (the records gathered so far are kept)."""


def utc_stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class Runner(object):
    """One change as it runs: the controller's context, the modules it calls on the host, the records it gathers."""

    def __init__(self, action, ctx, task_vars, interactive="auto", retries=5, wait_retries=60):
        self.action = action
        self.ctx = ctx
        self.lang = ctx.lang
        self.task_vars = task_vars
        self.interactive = interactive
        self.retries = retries
        self.wait_retries = wait_retries
        self.check_mode = bool(action._task.check_mode)
        self.evidence = []
        self.rollbacks = []
        self.decisions = {}
        self.checks = None
        self.snapshot = None
        self.milestone = None
        # The SSOT's container as own_container found it (the engine's inspect), None when it does not exist.
        self.found = None
        self.notes = []
        self.changed = False

    # --- what the SSOT says ----------------------------------------------------------------------------------
    @property
    def ssot(self):
        return self.ctx.ssot

    @property
    def container(self):
        return self.ssot["target"]["container"]

    @property
    def target_dir(self):
        return self.ssot["target"].get("dir") or self.ctx.workspace

    def snapshot_root(self):
        return os.path.join(self.target_dir, self.ssot["snapshot"]["destination"])

    def secret(self, ref):
        """A secret the SSOT references ({env: NAME} on the controller, {var: NAME} a variable), resolved now."""
        if isinstance(ref, dict) and len(ref) == 1:
            kind, name = next(iter(ref.items()))
            if kind == "env":
                if name not in os.environ:
                    raise ChangeFailed(message(self.lang, "secret.env_missing", where="password", name=name))
                return os.environ[name]
            if kind == "var":
                if name not in self.task_vars:
                    raise ChangeFailed(message(self.lang, "secret.var_missing", where="password", name=name))
                return self.action._templar.template(self.task_vars[name])
        return ref

    def login(self):
        target = self.ssot["target"]
        port = target["ports"][0]
        bind = port["bind"]
        return {"login_host": "127.0.0.1" if bind in ("0.0.0.0", "::") else bind, "login_port": int(port["host"]),
                "login_user": target["connection"]["user"], "login_db": target["connection"]["database"],
                "login_password": self.secret(target["connection"].get("password"))}

    def own_container(self, port=True, required=True):
        """The SSOT's container, as the engine reports it, is this environment's own: labelled for this workspace
        (a copy of the workspace elsewhere, or another environment, does not act on it) and - with ``port`` - the one
        publishing the port the change connects to. ChangeFailed otherwise; None when it does not exist and
        ``required`` is false. What it found is kept as ``found`` for the change (one inspect per run)."""
        info = self.call(CONTAINER_INFO, {"name": self.container}, evidence=False)
        if not info.get("exists"):
            if required:
                raise ChangeFailed(message(self.lang, "role.expose.no_container", container=self.container))
            self.found = None
            return None
        found = info.get("container") or {}
        owner = ((found.get("Config") or {}).get("Labels") or {}).get(WORKSPACE_LABEL) or ""
        if owner != self.ctx.workspace:
            raise ChangeFailed(message(self.lang, "change.foreign_container", container=self.container,
                                       owner=owner or "-", workspace=self.ctx.workspace))
        if port:
            wanted = int(self.ssot["target"]["ports"][0]["host"])
            published = ((found.get("NetworkSettings") or {}).get("Ports") or {}).values()
            if wanted not in set(int(b.get("HostPort") or 0) for bindings in published if bindings
                                 for b in bindings if isinstance(b, dict)):
                raise ChangeFailed(message(self.lang, "change.port_elsewhere", container=self.container,
                                           port=wanted))
        self.found = info
        return info

    # --- calling modules on the host ----------------------------------------------------------------------------
    def call(self, module, args, fail=True, evidence=True):
        """Run ``module`` where the host is; its evidence joins the change's. ChangeFailed when it fails."""
        out = self.action._execute_module(module_name=module, module_args=args, task_vars=self.task_vars)
        self.changed = self.changed or bool(out.get("changed"))
        if evidence:
            self.evidence += [e for e in out.get("evidence") or [] if isinstance(e, dict)]
        if fail and (out.get("failed") or out.get("unreachable")):
            why = out.get("msg") or out.get("module_stderr")
            raise ChangeFailed(why or message(self.lang, "change.module_failed", module=module))
        return out

    def query(self, sql, positional=None, named=None):
        args = dict(self.login(), query=sql)
        if positional is not None:
            args["positional_args"] = positional
        if named is not None:
            args["named_args"] = named
        return self.call(PG_QUERY, args)

    def check(self, name, **args):
        """pg_check (read-only session) on the SSOT's server: its checks, findings and pending decisions."""
        args.update(self.login())
        args.update(client_tools=[], ssot_digest=self.ctx.digest, language=self.lang, evidence_name=name)
        return self.call("ssot.governance.pg_check", args)

    def wait(self):
        for dummy in range(max(1, self.wait_retries)):
            out = self.call(PG_PING, self.login(), fail=False, evidence=False)
            if out.get("is_available"):
                return out
            time.sleep(1)
        raise ChangeFailed(message(self.lang, "change.no_answer", container=self.container))

    # --- decisions ------------------------------------------------------------------------------------------------
    def settle(self, decisions, prefix):
        out = []
        for d in decisions or []:
            if not (isinstance(d, dict) and str(d.get("id", "")).startswith(prefix)):
                continue
            settled = self.ctx.settle(d)
            if settled is None:
                self.notes.append(message(self.lang, "refused.inconsistent_decision"))
                continue
            out.append(settled)
        return out

    def gate(self, decisions, proceed_options):
        """The decisions' verdict now, asking at a terminal when one waits and a human is there. Fails closed while
        one is pending; returns the approved decisions whose option lets the change act."""
        outcome = _gate.decide(self.ctx, decisions, proceed_options, self.interactive, self.retries)
        for d in outcome["decisions"]:
            self.decisions[d["id"]] = d
        if outcome["pending"]:
            raise ChangeFailed(outcome["msg"])
        return [d for d in outcome["decisions"] if d["id"] in outcome["proceed"]], outcome["declined"]

    def rollback_decision(self, subject, point, facts):
        """The decision a rollback answers: its facts are what it restores (the card shows them, and its words are
        rendered from them: ``_decisions.presentation``)."""
        facts = dict(facts, point={"seq": point["seq"], "hash": point["hash"][:16], "at": point["at"]})
        decision = _decisions.build("rollback", subject, facts, ("rollback", "keep"), self.ctx.digest, self.lang)
        return self.ctx.settle(decision)

    def point(self, subject, required=True):
        """The last rollback data of ``subject`` from trusted journal lines; ChangeFailed when there is none (or,
        with ``required`` false, the empty answer)."""
        journal = _verified.Journal(self.ctx.workspace, self.ctx.rules, self.lang)
        refusal = journal.refusal(self.ctx.workspace, self.lang)
        if refusal:
            raise ChangeFailed(refusal)
        if journal.untrusted:
            self.notes.append(message(self.lang, "change.untrusted_lines", count=journal.untrusted))
        found = journal.rollback(subject)
        if found["point"] is None and required:
            raise ChangeFailed(message(self.lang, "role.nothing_to_undo", subject=subject) + (
                " " + message(self.lang, "change.untrusted_lines", count=journal.untrusted) if journal.untrusted
                else ""))
        return found

    def keep_point(self, subject, data):
        """The rollback point of this change: a record of its own (and its evidence for people), before it acts."""
        self.rollbacks.append(_result.rollback(subject, "point", data))
        self.evidence.append(_result.evidence("rollback-%s.json" % subject, content=data))

    def invalid(self, subject, what):
        raise ChangeFailed(message(self.lang, "change.rollback.invalid", subject=subject, what=what))

    # --- the result ---------------------------------------------------------------------------------------------
    def result(self, changed, msg, failed=False):
        out = {"changed": bool(changed or self.changed), "msg": msg, "evidence": self.evidence, "decisions": list(self.decisions.values()),
               "check_mode": self.check_mode}
        if self.rollbacks:
            out["rollbacks"] = self.rollbacks
        if self.checks is not None:
            out["checks"] = self.checks
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        if self.milestone is not None:
            out["milestone"] = self.milestone
        if self.notes:
            out["notes"] = self.notes
        if failed:
            out["failed"] = True
        return out


# --- settings -----------------------------------------------------------------------------------------------------
def _activate(r, entries):
    """Reload, or restart the container when a setting's context is postmaster."""
    if any(e.get("restart") for e in entries):
        r.call(CONTAINER, {"name": r.container, "state": "started", "restart": True})
        r.wait()
    else:
        r.query("SELECT pg_reload_conf()")


def settings(r):
    wanted = r.ssot["postgres"].get("settings") or {}
    detect = r.check("modify-detect", settings=wanted)
    decisions = r.settle(detect.get("decisions"), "validate.setting.")
    deviating = [c["id"][len("setting."):] for c in detect.get("checks") or []
                 if str(c.get("id", "")).startswith("setting.") and c.get("status") != "match"]
    approved, declined = r.gate(decisions, ["fix"])
    if not approved:
        return r.result(False, message(r.lang, "role.modify.nothing_approved", declined=", ".join(declined) or "-"))
    rows = r.query("SELECT name, setting, unit, context, source, coalesce(sourcefile, '') AS sourcefile "
                   "FROM pg_settings WHERE name = ANY(string_to_array(%s, ',')) ORDER BY name",
                   positional=[",".join(deviating)])
    # Only the settings the approved decisions are about (their facts), whatever checks the host reported.
    covered = set(str(d["facts"].get("check")) for d in approved)
    checks = [c for c in detect.get("checks") or [] if c.get("id") in covered]
    plan = _plan.settings_plan(checks, (rows.get("query_all_results") or [[]])[0], wanted,
                               [d["id"] for d in approved], r.lang)
    r.evidence.append(_result.evidence("plan-settings.json", content={"plan": plan}))
    todo = [e for e in plan if e["action"] == "set"]
    if not todo:
        return r.result(False, message(r.lang, "change.nothing_to_apply", skipped="; ".join(
            "%s: %s" % (e["name"], e["reason"]) for e in plan)))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="; ".join(
            "%s: %s -> %s" % (e["name"], e["current"], e["target"]) for e in todo)))
    r.keep_point("settings", {
        "container": r.container, "ssot_digest": r.ctx.digest,
        "settings": [dict((k, e[k]) for k in ("name", "current", "rollback", "restart", "context", "unit", "source"))
                     for e in todo]})
    try:
        for e in todo:
            r.call(PG_SET, dict(r.login(), name=e["name"], value=e["target"]))
        _activate(r, todo)
    except ChangeFailed as exc:
        raise ChangeFailed(message(r.lang, "role.modify.apply_failed", error=str(exc), workspace=r.ctx.workspace))
    verify = r.check("modify-verify", settings=dict((e["name"], wanted[e["name"]]) for e in todo))
    r.checks = verify.get("checks")
    left = [c["id"] for c in verify.get("checks") or [] if c.get("status") != "match"]
    if left:
        raise ChangeFailed(message(r.lang, "role.modify.still_deviates", ids=left))
    return r.result(True, message(r.lang, "role.modify.verified", ids=[c["id"] for c in verify.get("checks") or []]))


def _settings_data(r, data):
    """The settings a rollback may restore: only the SSOT's own settings, values as short plain text."""
    entries = data.get("settings")
    known = set(r.ssot["postgres"].get("settings") or {})
    if not isinstance(entries, list) or not entries:
        r.invalid("settings", "settings")
    out = []
    for e in entries:
        if not isinstance(e, dict):
            r.invalid("settings", "settings[]")
        name, current, how = e.get("name"), e.get("current"), e.get("rollback")
        if not isinstance(name, str) or not _NAME.match(name) or name not in known:
            r.invalid("settings", "name")
        if how not in ("reset", "set"):
            r.invalid("settings", "rollback")
        if not isinstance(current, str) or len(current) > VALUE_LIMIT or "\x00" in current:
            r.invalid("settings", "current")
        if e.get("context") not in SETTINGS_CONTEXTS + (None,):
            r.invalid("settings", "context")
        out.append({"name": name, "current": current, "rollback": how, "restart": e.get("context") == "postmaster"
                    or e.get("restart") is True})
    if data.get("container") not in (None, r.container):
        r.invalid("settings", "container")
    return out


def settings_rollback(r):
    found = r.point("settings")
    point = found["point"]
    restore = _settings_data(r, point["data"])
    decision = r.rollback_decision("settings", point, {"restore": [
        {"name": e["name"], "to": "RESET" if e["rollback"] == "reset" else e["current"]} for e in restore]})
    approved, declined = r.gate([decision], ["rollback"])
    if not approved:
        return r.result(False, message(r.lang, "change.rollback.kept", subject="settings"))
    r.evidence.append(_result.evidence("rollback-plan-settings.json",
                                       content={"restore": restore, "point": point["seq"]}))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan=", ".join(e["name"] for e in restore)))
    for e in restore:
        args = dict(r.login(), name=e["name"])
        if e["rollback"] == "reset":
            args["reset"] = True
        else:
            args["value"] = e["current"]
        r.call(PG_SET, args)
    _activate(r, restore)
    back = r.query("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(string_to_array(%s, ',')) "
                   "ORDER BY name", positional=[",".join(e["name"] for e in restore)])
    found_now = dict((row["name"], row["setting"]) for row in (back.get("query_all_results") or [[]])[0])
    r.evidence.append(_result.evidence("rollback-verify.json", content=found_now))
    r.rollbacks.append(_result.rollback("settings", "done", {"point": point["seq"]}))
    expected = dict((e["name"], e["current"]) for e in restore)
    if found_now != expected:
        raise ChangeFailed(message(r.lang, "role.modify.rollback_failed", found=found_now, expected=expected))
    return r.result(True, message(r.lang, "role.modify.rollback_ok", names=sorted(expected)))


# --- pg_hba ---------------------------------------------------------------------------------------------------------
def _methods(r):
    """What replaces trust: the SSOT's allowed methods, never trust (md5 first: it accepts SCRAM passwords too)."""
    allowed = r.ssot.get("exposure", {}).get("allowed_auth_methods") or ["md5", "scram-sha-256", "peer"]
    host = next((m for m in ("md5", "scram-sha-256") if m in allowed), None)
    local = next((m for m in ("peer", "md5", "scram-sha-256") if m in allowed), None)
    if host is None or local is None:
        raise ChangeFailed(message(r.lang, "change.no_method", methods=", ".join(allowed)))
    return host, local


def _read_hba(r):
    hba = r.query("SELECT current_setting('hba_file') AS path, pg_read_file(current_setting('hba_file')) AS content")
    row = (hba.get("query_result") or [{}])[0]
    return row.get("path"), row.get("content") or ""


def _write_hba(r, path, content):
    """The server writes the file itself (COPY ... TO the path it reports), so owner and mode stay its own."""
    r.call(PG_QUERY, dict(r.login(), query=(
        "COPY (SELECT line FROM unnest(string_to_array(rtrim(%(content)s, E'\\n'), E'\\n')) WITH ORDINALITY "
        "AS t(line, n) ORDER BY n) TO '" + path.replace("'", "''") + "'"), named_args={"content": content}))
    r.query("SELECT pg_reload_conf()")


def pg_hba(r):
    detect = r.check("expose-detect", exposure=r.ssot.get("exposure") or {})
    decisions = r.settle(detect.get("decisions"), "finding.trust.")
    if not decisions:
        return r.result(False, message(r.lang, "role.expose.no_trust_change", why=message(
            r.lang, "role.expose.no_trust_entry")))
    approved, dummy = r.gate(decisions, ["remediate"])
    if not approved:
        return r.result(False, message(r.lang, "role.expose.no_trust_change", why=message(
            r.lang, "role.expose.declined")))
    host_method, local_method = _methods(r)
    path, content = _read_hba(r)
    plan = _plan.hba_without_trust(content, host_method, local_method)
    r.evidence.append(_result.evidence("plan-pg_hba.json", content=dict(plan, path=path)))
    if plan["refused"]:
        raise ChangeFailed(message(r.lang, "role.expose.hba_refused", reason=plan["refused"]))
    # The file is changed only where the approved decision said (the trust rules its facts list, by line): a rule
    # that appeared since, or moved, is not what was approved.
    approved_lines = set()
    for d in approved:
        for entry in (d["facts"].get("actual") or []):
            number = str(entry).split(":", 1)[0]
            approved_lines.add(int(number) if number.isdigit() else -1)
    planned = set(c["line"] for c in plan["changes"])
    if planned != approved_lines:
        raise ChangeFailed(message(r.lang, "change.hba_moved", planned=", ".join(str(n) for n in sorted(planned)),
                                   approved=", ".join(str(n) for n in sorted(approved_lines)) or "-"))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="; ".join(
            "%s -> %s" % (c["before"], c["after"]) for c in plan["changes"])))
    r.keep_point("pg_hba", {"content": content, "container": r.container, "ssot_digest": r.ctx.digest})
    try:
        _write_hba(r, path, plan["content"])
    except ChangeFailed as exc:
        raise ChangeFailed(message(r.lang, "role.expose.hba_apply_failed", error=str(exc), workspace=r.ctx.workspace))
    verify = r.check("expose-verify", exposure=r.ssot.get("exposure") or {})
    if [f for f in verify.get("findings") or [] if f.get("code") == "trust"]:
        raise ChangeFailed(message(r.lang, "role.expose.still_trust"))
    return r.result(True, message(r.lang, "role.expose.trust_removed", count=len(plan["changes"])))


def _hba_lines(text_value):
    return [line.strip() for line in text_value.splitlines() if line.strip() and not line.strip().startswith("#")]


def pg_hba_rollback(r):
    found = r.point("pg_hba")
    point = found["point"]
    content = point["data"].get("content")
    if not isinstance(content, str) or not content.strip() or len(content) > HBA_LIMIT or "\x00" in content \
            or "\\" in content:
        r.invalid("pg_hba", "content")
    if point["data"].get("container") not in (None, r.container):
        r.invalid("pg_hba", "container")
    path, now = _read_hba(r)
    before, after = _hba_lines(now), _hba_lines(content)
    back = [line for line in after if line not in before]
    gone = [line for line in before if line not in after]
    # The card shows the whole file the rollback writes (every rule, in order) and its sha256, not only the
    # difference: what is approved is exactly what is written.
    decision = r.rollback_decision("pg_hba", point, {"file": path, "writes": after, "adds": back, "removes": gone,
                                                     "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest()})
    approved, dummy = r.gate([decision], ["rollback"])
    if not approved:
        return r.result(False, message(r.lang, "change.rollback.kept", subject="pg_hba"))
    r.evidence.append(_result.evidence("rollback-plan-pg_hba.json",
                                       content={"restores": back, "removes": gone, "point": point["seq"]}))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="pg_hba: +%d -%d" % (len(back), len(gone))))
    _write_hba(r, path, content)
    dummy, written = _read_hba(r)
    r.rollbacks.append(_result.rollback("pg_hba", "done", {"point": point["seq"]}))
    if written.strip() != content.strip():
        raise ChangeFailed(message(r.lang, "role.expose.hba_rollback_failed"))
    return r.result(True, message(r.lang, "role.expose.hba_rollback_ok"))


# --- exposure -------------------------------------------------------------------------------------------------------
def _ports(r):
    return ["%s:%s:%s" % (p["bind"], p["host"], p["container"]) for p in r.ssot["target"]["ports"]]


def container_spec(r, image, volumes_from=None):
    """The container as the SSOT describes it (provisioning and a republication run the same spec)."""
    target = r.ssot["target"]
    env = dict((k, str(r.secret(v))) for k, v in (target.get("env") or {}).items())
    spec = {"name": target["container"], "image": image, "state": "started", "published_ports": _ports(r),
            "env": env, "command": ["-c%s=%s" % (k, v) for k, v in (target.get("server_args") or {}).items()],
            "stop_signal": "SIGINT", "comparisons": {"*": "ignore"},
            "labels": {"io.ssot-governance.managed": "true", WORKSPACE_LABEL: r.ctx.workspace}}
    # Hardened as provisioning runs it (roles/provision/tasks/run.yml; docs/security.md row 12), the schema's
    # defaults where the SSOT says nothing.
    defaults = _schemas.SCHEMAS["ssot"]["properties"]["target"]["properties"]["hardening"]["properties"]
    hardening = dict((k, v.get("default")) for k, v in defaults.items())
    hardening.update(target.get("hardening") or {})
    spec.update(cap_drop=["ALL"], capabilities=list(hardening["capabilities"] or []),
                pids_limit=hardening["pids_limit"])
    if hardening["no_new_privileges"]:
        spec["security_opts"] = ["no-new-privileges"]
    if hardening.get("memory"):
        spec["memory"] = hardening["memory"]
    if not hardening["image_healthcheck"]:
        spec["healthcheck"] = {"test": ["NONE"]}
    if volumes_from:
        spec["volumes_from"] = list(volumes_from)
    return spec


def _published(info):
    ports = ((info.get("container") or {}).get("NetworkSettings") or {}).get("Ports") or {}
    return ", ".join(sorted("%s:%s" % (b.get("HostIp") or "0.0.0.0", b.get("HostPort"))
                            for bindings in ports.values() if bindings for b in bindings))


def exposure(r):
    info = r.found    # run(): own_container, required
    ports = info["container"]["NetworkSettings"]["Ports"]
    host_port = next((int(b["HostPort"]) for bindings in ports.values() if bindings for b in bindings), None)
    expected = ["%s:%s" % (p["bind"], p["host"]) for p in r.ssot["target"]["ports"]]
    login = r.login()
    if host_port:
        login["login_port"] = host_port
    args = dict(login, client_tools=[], published_ports=ports, expected_ports=expected,
                exposure=r.ssot.get("exposure") or {}, ssot_digest=r.ctx.digest, language=r.lang,
                evidence_name="exposure-detect")
    detect = r.call("ssot.governance.pg_check", args)
    decisions = r.settle(detect.get("decisions"), "validate.exposure.")
    approved, dummy = r.gate(decisions, ["fix"])
    if not approved:
        return r.result(False, message(r.lang, "role.expose.no_exposure_change"))
    stamp = utc_stamp()
    kept = "%s-antes-%s" % (r.container, stamp)
    check = next((c for c in detect.get("checks") or [] if c.get("id") == "exposure.published"), {})
    data = {"container": r.container, "kept_as": kept, "published_before": check.get("actual") or _published(info),
            "published_after": ", ".join(expected), "image_before": info["container"]["Config"]["Image"],
            "ssot_digest": r.ctx.digest}
    r.evidence.append(_result.evidence("plan-exposure.json", content=data))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="%s -> %s" % (
            data["published_before"], data["published_after"])))
    r.keep_point("exposure", data)
    try:
        r.call(CONTAINER, {"name": r.container, "state": "stopped"})
        committed = r.call(RENAME, {"name": r.container, "new_name": kept, "language": r.lang,
                                    "commit_as": "%s-dados:%s" % (r.container, stamp.lower())})
        r.evidence.append(_result.evidence("docker-commit", text=committed.get("image") or ""))
        r.call(CONTAINER, container_spec(r, committed.get("image") or "", [kept]))
        r.wait()
    except ChangeFailed as exc:
        raise ChangeFailed(message(r.lang, "role.expose.exposure_apply_failed", error=str(exc),
                                   workspace=r.ctx.workspace))
    after = r.call(CONTAINER_INFO, {"name": r.container}, evidence=False)
    verify = r.call("ssot.governance.pg_check", dict(
        r.login(), client_tools=[], published_ports=after["container"]["NetworkSettings"]["Ports"],
        expected_ports=expected, exposure=r.ssot.get("exposure") or {}, ssot_digest=r.ctx.digest, language=r.lang,
        evidence_name="exposure-verify"))
    published = next((c for c in verify.get("checks") or [] if c.get("id") == "exposure.published"), {})
    if published.get("status") != "match":
        raise ChangeFailed(message(r.lang, "role.expose.exposure_differs", kept=kept))
    fingerprint = r.call("ssot.governance.changes_since", {"container": r.container, "subject": "exposure",
                                                           "checksums": True, "language": r.lang})
    r.rollbacks.append(_result.rollback("exposure", "fingerprint", fingerprint.get("fingerprint") or {}))
    return r.result(True, message(r.lang, "role.expose.exposure_ok", container=r.container,
                                  published=published.get("actual"), kept=kept))


def _changes_since(r, subject, found, databases=None):
    """What changed in the server since the change (tables, rows, content), against its recorded fingerprint."""
    fingerprint = found["fingerprint"]
    baseline = (fingerprint or {}).get("data", {}).get("tables") if fingerprint else {}
    if not isinstance(baseline, dict):
        r.invalid(subject, "fingerprint")
    since = r.call("ssot.governance.changes_since", {"container": r.container, "subject": subject,
                                                     "databases": databases or [], "checksums": True,
                                                     "baseline": baseline or {}, "language": r.lang})
    return [_pgdata.describe(c, "now", r.lang) for c in since.get("changes") or []]


def _pre_rollback_snapshot(r):
    """A verified snapshot of the server as it is now, before anything moves."""
    dest = os.path.join(r.snapshot_root(), "%s-pre-rollback" % utc_stamp())
    captured = r.call("ssot.governance.snapshot_capture", {
        "container": r.container, "dest": dest, "capture": ["container_inspect", "pg_dumpall"],
        "compression": r.ssot["snapshot"]["compression"], "ssot_digest": r.ctx.digest, "language": r.lang,
        "secrets": [r.secret(r.ssot["target"]["connection"].get("password"))]})
    verified = r.call("ssot.governance.snapshot_verify", {"path": captured["dest"], "language": r.lang,
                                                          "manifest_sha256": captured["manifest_sha256"]})
    r.snapshot = _result.snapshot(captured["dest"], status="verified" if not verified.get("altered") and not
                                  verified.get("missing") else "failed", files=verified.get("checked"))
    return captured


def _kept_aside(r):
    """A change killed between keeping the old container aside and recording it leaves no rollback point: the kept
    container is then found in the engine - named <container>-antes-<UTC time> and labelled for this workspace (the
    SSOT and the engine say so, no journal line). Exactly one, or nothing to bring back."""
    found = r.call("community.docker.docker_host_info", {
        "containers": True, "containers_all": True,
        "containers_filters": {"label": "io.ssot-governance.workspace=%s" % r.ctx.workspace,
                               "name": "^%s-antes-" % r.container}}, evidence=False)
    names = sorted(n.lstrip("/") for c in found.get("containers") or [] for n in c.get("Names") or [])
    names = [n for n in names if n.startswith(r.container + "-antes-") and _STAMP.match(n[len(r.container) + 7:])]
    if len(names) != 1:
        raise ChangeFailed(message(r.lang, "role.nothing_to_undo", subject="exposure"))
    info = r.call(CONTAINER_INFO, {"name": names[0]}, evidence=False)
    bindings = ((info.get("container") or {}).get("HostConfig") or {}).get("PortBindings") or {}
    before = ", ".join(sorted("%s:%s" % (b.get("HostIp") or "0.0.0.0", b.get("HostPort"))
                              for values in bindings.values() if values for b in values))
    point = {"seq": 0, "hash": "engine" + "0" * 16, "at": "-"}
    return {"point": dict(point, data={"container": r.container, "kept_as": names[0], "published_before": before}),
            "fingerprint": None}


def exposure_rollback(r):
    found = r.point("exposure", required=False)
    if found["point"] is None:
        found = _kept_aside(r)
    point = found["point"]
    data = point["data"]
    kept = data.get("kept_as")
    if data.get("container") != r.container:
        r.invalid("exposure", "container")
    if not isinstance(kept, str) or not kept.startswith(r.container + "-antes-") or \
            not _STAMP.match(kept[len(r.container + "-antes-"):]):
        r.invalid("exposure", "kept_as")
    before = data.get("published_before")
    if not isinstance(before, str) or not all(_PUBLISHED.match(p.strip()) for p in before.split(",") if p.strip()):
        r.invalid("exposure", "published_before")
    kept_info = r.call(CONTAINER_INFO, {"name": kept}, evidence=False)
    if not kept_info.get("exists"):
        raise ChangeFailed(message(r.lang, "role.expose.kept_gone", kept=kept))
    labels = (kept_info["container"].get("Config") or {}).get("Labels") or {}
    if labels.get(WORKSPACE_LABEL) != r.ctx.workspace:
        r.invalid("exposure", "kept_as")
    changes = _changes_since(r, "exposure", found) if r.found is not None else []
    config, host_config = kept_info["container"].get("Config") or {}, kept_info["container"].get("HostConfig") or {}
    decision = r.rollback_decision("exposure", point, {
        "brings_back": kept, "publishes": before, "changes": changes,
        # What the engine says the kept container is (its image and its own bindings), not only what the point says.
        "image": config.get("Image") or kept_info["container"].get("Image"),
        "port_bindings": host_config.get("PortBindings") or {}})
    approved, dummy = r.gate([decision], ["rollback"])
    if not approved:
        return r.result(False, message(r.lang, "change.rollback.kept", subject="exposure"))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="%s -> %s" % (kept, r.container)))
    if r.found is not None:
        _pre_rollback_snapshot(r)
        r.call(CONTAINER, {"name": r.container, "state": "stopped"})
        r.call(RENAME, {"name": r.container, "new_name": "%s-desfeito-%s" % (r.container, utc_stamp().lower()),
                        "language": r.lang})
    r.call(RENAME, {"name": kept, "new_name": r.container, "language": r.lang})
    started = r.call(CONTAINER, {"name": r.container, "state": "started"})
    r.rollbacks.append(_result.rollback("exposure", "done", {"point": point["seq"]}))
    ports = ((started.get("container") or {}).get("NetworkSettings") or {}).get("Ports") or {}
    now = set(int(b["HostPort"]) for bindings in ports.values() if bindings for b in bindings)
    wanted = set(int(p.rsplit(":", 1)[1]) for p in before.split(",") if p.strip())
    if not wanted <= now:
        raise ChangeFailed(message(r.lang, "role.expose.exposure_rollback_failed", ports=sorted(now), before=before))
    return r.result(True, message(r.lang, "role.expose.exposure_rollback_ok", container=r.container, before=before))


# --- ingestion ------------------------------------------------------------------------------------------------------
def _sources(r, fail_on_mismatch=False):
    """The sources found and the plan per database (the module, where the target is); what it found blocked (no
    source available: the phase's milestone "Disponibilizar fonte de dados") is kept as the change's record."""
    ingest = r.ssot.get("ingest") or {}
    out = r.call("ssot.governance.ingest_sources", {
        "sources": r.ssot.get("sources") or [], "target": r.container, "workspace": r.target_dir,
        "checksums": ingest.get("checksums", True), "jobs": ingest.get("jobs", 1), "ssot_digest": r.ctx.digest,
        "globals": ingest.get("globals", True), "roles": ingest.get("roles") or {}, "owner": ingest.get("owner"),
        "language": r.lang, "fail_on_mismatch": fail_on_mismatch}, fail=False)
    r.checks = [c for c in out.get("checks") or [] if isinstance(c, dict)] or None
    milestone = out.get("milestone")
    if isinstance(milestone, dict) and milestone.get("status") in ("blocked", "failed", "clear"):
        r.milestone = _result.milestone("ingest", milestone["status"], [
            s for s in milestone.get("next_steps") or [] if isinstance(s, str)],
            title=message(r.lang, "milestone.5.source") if milestone.get("title") else None)
    if out.get("failed"):
        raise ChangeFailed(out.get("msg") or message(r.lang, "change.module_failed", module="ingest_sources"))
    return out


def ingest(r):
    found = _sources(r)
    plan = found.get("plan") or []
    # A database with no owner it may be handed to (the check says what to set): nothing loads.
    refused = [i for i in plan if isinstance(i, dict) and i.get("action") == "refused"]
    if refused:
        raise ChangeFailed("; ".join(str(i.get("reason")) for i in refused))
    decisions = []
    for item in plan:
        if isinstance(item.get("decision"), dict):
            settled = r.settle([item["decision"]], "ingest.")
            if settled:
                item["decision"] = settled[0]
                decisions.append(settled[0])
            else:
                item.pop("decision")
    if not decisions:
        return r.result(False, found.get("msg") or message(r.lang, "ingest.nothing"))
    try:
        approved, dummy = r.gate(decisions, ["ingest", "reload"])
    except ChangeFailed:
        pending = [d for d in r.decisions.values() if d["status"] != _decisions.APPROVED]
        r.milestone = _result.milestone("ingest", "blocked", [message(
            r.lang, "next.pending_decision", id=d["id"], title=d.get("title", "")) for d in pending])
        raise
    ids = [d["id"] for d in approved]
    todo = [i for i in plan if (i.get("decision") or {}).get("id") in ids]
    if not todo:
        return r.result(False, message(r.lang, "ingest.nothing"))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan="; ".join(
            "%s %s: %s" % (i["source"], i["database"], i["action"]) for i in todo)))
    ssot_ingest = r.ssot.get("ingest") or {}
    folder, manifest, files = "", "", []
    if ssot_ingest.get("pre_snapshot", True):
        folder = "%s-pre-ingest" % utc_stamp()
        captured = r.call("ssot.governance.snapshot_capture", {
            "container": r.container, "dest": os.path.join(r.snapshot_root(), folder),
            "capture": ["container_inspect", "pg_dumpall"], "compression": r.ssot["snapshot"]["compression"],
            "ssot_digest": r.ctx.digest, "language": r.lang,
            "secrets": [r.secret(r.ssot["target"]["connection"].get("password"))]})
        verified = r.call("ssot.governance.snapshot_verify", {"path": captured["dest"], "language": r.lang,
                                                              "manifest_sha256": captured["manifest_sha256"]})
        r.snapshot = _result.snapshot(captured["dest"], status="verified", files=verified.get("checked"))
        manifest, files = captured["manifest_sha256"], captured.get("files") or []
    r.keep_point("ingest", {
        "target": r.container, "ssot_digest": r.ctx.digest, "snapshot": folder, "manifest_sha256": manifest,
        "snapshot_files": files, "databases": [i["rollback_entry"] for i in todo],
        "roles_before": found.get("target_roles") or []})
    # The target gets what to load, never who approved it; and the sha256 of the role statements and of the code
    # inventory the approved card showed, and the owner it named (from the settled decision's facts): it loads those
    # or nothing.
    bound = ("globals_sha256", "code_sha256", "restorable_sha256", "schema_portable", "dump_sha256", "owner",
             "owner_how")
    loaded = r.call("ssot.governance.ingest_load", {
        "plan": [dict(i, decision={"id": i["decision"]["id"]}, **dict(
            (k, (i["decision"].get("facts") or {}).get(k)) for k in bound)) for i in todo],
        "sources": found.get("sources") or [], "proceed": ids, "target": r.container,
        "jobs": ssot_ingest.get("jobs", 1), "globals": ssot_ingest.get("globals", True),
        "roles": ssot_ingest.get("roles") or {}, "owner": ssot_ingest.get("owner"),
        "compression": ssot_ingest.get("compression", 1), "language": r.lang})
    fingerprint = r.call("ssot.governance.changes_since", {
        "container": r.container, "subject": "ingest", "checksums": True, "language": r.lang,
        "databases": [i["rollback_entry"]["name"] for i in todo]})
    r.rollbacks.append(_result.rollback("ingest", "fingerprint", fingerprint.get("fingerprint") or {}))
    return r.result(True, loaded.get("msg") or "")


def _ingest_data(r, data):
    if data.get("target") != r.container:
        r.invalid("ingest", "target")
    folder = data.get("snapshot") or ""
    if folder and (not isinstance(folder, str) or not re.match(r"^\d{8}T\d{6}Z-pre-ingest$", folder)):
        r.invalid("ingest", "snapshot")
    manifest = data.get("manifest_sha256") or ""
    if folder and not re.match(r"^[0-9a-f]{64}$", str(manifest)):
        r.invalid("ingest", "manifest_sha256")
    dbs = data.get("databases")
    if not isinstance(dbs, list) or not dbs:
        r.invalid("ingest", "databases")
    databases = []
    for e in dbs:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not re.match(
                r"^[A-Za-z0-9_.-]{1,63}$", e["name"]) or e.get("action") not in ("load", "reload"):
            r.invalid("ingest", "databases[]")
        rows = e.get("rows_before") or {}
        if not isinstance(rows, dict) or not all(isinstance(k, str) and isinstance(v, int) for k, v in rows.items()):
            r.invalid("ingest", "rows_before")
        databases.append({"name": e["name"], "action": e["action"], "rows_before": rows})
    roles = data.get("roles_before") or []
    if not isinstance(roles, list) or not all(isinstance(x, str) and len(x) < 64 for x in roles):
        r.invalid("ingest", "roles_before")
    files = [f for f in data.get("snapshot_files") or [] if isinstance(f, dict)]
    dump = next((f.get("name") for f in files if f.get("kind") == "dump"), None)
    if dump is not None and (not isinstance(dump, str) or "/" in dump or dump.startswith(".")):
        r.invalid("ingest", "snapshot_files")
    return {"target": r.container, "snapshot": folder, "manifest_sha256": manifest, "databases": databases,
            "roles_before": roles, "snapshot_files": [{"name": dump, "kind": "dump"}] if dump else []}


def ingest_rollback(r):
    found = r.point("ingest")
    point = found["point"]
    if found["done"] is not None:
        raise ChangeFailed(message(r.lang, "role.ingest.already_undone", data=point["at"], undone=found["done"]["at"]))
    data = _ingest_data(r, point["data"])
    names = [d["name"] for d in data["databases"]]
    changes = _changes_since(r, "ingest", found, names)
    # The roles the rollback drops are decided here, from what the server has now and the sealed point's list, and
    # shown on the card; the module drops those and no other.
    drop_roles = []
    if data["roles_before"]:
        now = r.query("SELECT rolname FROM pg_roles ORDER BY rolname")
        drop_roles = [row["rolname"] for row in (now.get("query_all_results") or [[]])[0]
                      if isinstance(row, dict) and isinstance(row.get("rolname"), str)
                      and row["rolname"] not in data["roles_before"]]
    decision = r.rollback_decision("ingest", point, {
        "databases": ["%s (%s)" % (d["name"], d["action"]) for d in data["databases"]], "snapshot": data["snapshot"],
        "manifest_sha256": data["manifest_sha256"], "drops_roles": drop_roles,
        "changes": changes})
    approved, dummy = r.gate([decision], ["rollback"])
    if not approved:
        return r.result(False, message(r.lang, "change.rollback.kept", subject="ingest"))
    if r.check_mode:
        return r.result(True, message(r.lang, "change.plan_only", plan=", ".join(names)))
    _pre_rollback_snapshot(r)
    if data["snapshot"]:
        folder = os.path.join(r.snapshot_root(), data["snapshot"])
        # The pre-ingest snapshot, re-hashed against the manifest the sealed rollback point names.
        r.call("ssot.governance.snapshot_verify", {"path": folder, "manifest_sha256": data["manifest_sha256"],
                                                   "language": r.lang})
        data["snapshot"] = folder
    out = r.call("ssot.governance.ingest_rollback", {"rollback": data, "drop_roles": drop_roles, "target": r.container,
                                                     "language": r.lang})
    r.rollbacks.append(_result.rollback("ingest", "done", {"point": point["seq"], "dropped": out.get("dropped") or [],
                                                           "restored": [x.get("database") for x in
                                                                        out.get("restored") or []]}))
    return r.result(True, out.get("msg") or "")


KINDS = {
    "settings": (settings, settings_rollback),
    "pg_hba": (pg_hba, pg_hba_rollback),
    "exposure": (exposure, exposure_rollback),
    "ingest": (ingest, ingest_rollback),
}


def run(action, task_vars, kind, rollback=False, interactive="auto", retries=5, language=None, wait_retries=60):
    """Apply (or undo) one change kind; the action's result, records included, whatever happened."""
    try:
        ctx = _gate.Context(action, task_vars, language)
        ctx.require_recording()
    except _gate.Refused as exc:
        return {"failed": True, "changed": False, "msg": str(exc)}
    runner = Runner(action, ctx, task_vars, interactive, retries, wait_retries)
    try:
        # The container is this environment's own before anything is read from it or done to it. An exposure change
        # republishes the ports (they may differ now); its rollback may find no container (killed mid-change).
        runner.own_container(port=kind != "exposure", required=not (kind == "exposure" and rollback))
        return KINDS[kind][1 if rollback else 0](runner)
    except ChangeFailed as exc:
        return runner.result(False, str(exc), failed=True)
    except (KeyError, TypeError, ValueError) as exc:
        return runner.result(False, message(ctx.lang, "change.unexpected", kind=kind, error=rendered(exc, ctx.lang)),
                             failed=True)
