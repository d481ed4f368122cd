# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions a human must take, with stable ids, and the approvals that settle them.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + PyYAML
(it runs on the target).

A decision id is derived from what it is about (the phase, the subject, the facts that
make it a divergence), so the same deviation raises the same id on every run and an
approval recorded once keeps counting; a different divergence (another sha256, another
value) gets another id and needs its own approval.

An approval counts only for the decision id it names, an option the decision offers,
the SSOT digest the decision was raised under, before its ``expires_at``, and, when the SSOT
lists approvers, from one of them. Anything else leaves the decision pending.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import unicodedata

from ansible_collections.ssot.governance.plugins.module_utils import _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
REJECT_OPTION = "reject"

_SAFE = re.compile(r"[^a-z0-9_.-]+")


class ApprovalError(Exception):
    """approvals.yml cannot be read; the message says what to fix."""


def stable_id(kind, subject, *facts):
    """``<kind>.<subject>.<8 hex>``: the hex part is a digest of the facts (expected, actual ...)."""
    digest = hashlib.sha256(json.dumps(list(facts), sort_keys=True, default=str).encode("utf-8")).hexdigest()[:8]
    subject = _SAFE.sub("-", str(subject).lower()).strip("-.") or "x"
    return "%s.%s.%s" % (kind, subject[:60], digest)


def option(lang, code, option_id):
    return {"id": option_id, "label": text(lang, "decision.option.%s" % code)}


def build(decision_id, phase, title, context, options, ssot_digest, risk="", rollback=""):
    decision = {"id": decision_id, "phase": phase, "title": title, "context": context, "options": options,
                "ssot_digest": ssot_digest, "status": PENDING}
    if risk:
        decision["risk"] = risk
    if rollback:
        decision["rollback"] = rollback
    return decision


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


# An approval dated later than this past the clock of the run was not given yet.
CLOCK_SKEW = datetime.timedelta(minutes=5)
APPROVALS_MAX_BYTES = 1024 * 1024


def parse_time(value, lang="pt-BR", where="approvals"):
    """An ISO 8601 moment (UTC when it has no offset); ApprovalError naming ``where``, never echoing the input."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    text_value = str(value).strip() if isinstance(value, (str, datetime.date)) else ""
    if text_value.endswith(("Z", "z")):
        text_value = text_value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text_value)
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
        parsed.astimezone(datetime.timezone.utc)  # offsets that push it past year 9999
    except (ValueError, OverflowError, TypeError):
        raise ApprovalError(text(lang, "approval.bad_time", where=where))
    return parsed


def _validity(text_value):
    """'7d', '12h', '30m', '2w' -> timedelta (the SSOT's hitl.approval_validity); None unless strictly positive."""
    m = re.match(r"^([1-9][0-9]{0,3})([mhdw])$", str(text_value or ""))
    if not m:
        return None
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return datetime.timedelta(**{unit: int(m.group(1))})


# Characters a name may not hold: controls, format characters (zero-width, soft hyphen, bidi
# overrides), private use, surrogates, unassigned, line and paragraph separators.
_INVISIBLE = ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")
# Letters of other scripts drawn like Latin ones: two names that look the same are one person.
_CONFUSABLE = dict(zip(
    u"\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0455\u0456\u0457\u0458\u04bb\u0501\u051b\u051d"
    u"\u03b1\u03b2\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u0261\u0131",
    u"abeekmhopctyxsiijhdqw"
    u"abeiknoptuxgi"))


def identity_problem(name):
    """Why ``name`` cannot identify a person (a catalog key), or None."""
    if not isinstance(name, str) or not name.strip():
        return "approval.identity.blank"
    if any(unicodedata.category(c) in _INVISIBLE for c in name):
        return "approval.identity.invisible"
    if not identity_key(name):
        return "approval.identity.blank"
    return None


def identity_key(name):
    """What two names must share to be the same person: compatibility forms folded (fullwidth, ligatures),
    accents dropped, lookalike letters of other scripts read as Latin, case and spacing ignored."""
    folded = unicodedata.normalize("NFKD", str(name))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = "".join(_CONFUSABLE.get(c, c) for c in folded.casefold())
    return " ".join(folded.split())


def _detail(error, lang):
    """A schema error in words, naming the field and never the value."""
    path = "/".join(str(x) for x in error.absolute_path) or "-"
    if error.validator == "required":
        missing = [r for r in error.validator_value if isinstance(error.instance, dict) and r not in error.instance]
        return text(lang, "approval.field.required", field=", ".join(missing))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = (error.schema or {}).get("properties", {})
        extra = [_yaml.short(k) for k in error.instance if k not in known]
        return text(lang, "approval.field.unknown", field=", ".join(extra))
    return text(lang, "approval.field.invalid", field=path, rule=error.validator)


def check_entries(entries, source, lang="pt-BR"):
    """Schema-check approval entries; each kept entry gets ``source`` (where it came from, for messages)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _schemas
    import jsonschema
    validator = jsonschema.Draft202012Validator(_schemas.SCHEMAS["approvals"]["$defs"]["approval"])
    if not isinstance(entries, list):
        raise ApprovalError(text(lang, "approval.not_a_list", source=source))
    out = []
    for n, entry in enumerate(entries, 1):
        errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path))
        if errors:
            raise ApprovalError(text(lang, "approval.invalid", source=source, n=n,
                                     detail="; ".join(_detail(e, lang) for e in errors[:3])))
        where = "%s #%d" % (source, n)
        for key in ("approved_at", "expires_at"):
            if entry.get(key):
                parse_time(entry[key], lang, "%s %s" % (where, key))
        out.append(dict(entry, source=where))
    return out


def load_approvals(path, lang="pt-BR"):
    """The approvals of ``path`` (a missing file means none), read by the strict reader and schema-checked
    whole (schemas/approvals.schema.json): duplicate keys, unknown keys, bombs and FIFOs are errors."""
    if not path:
        return []
    name = os.path.basename(path)
    try:
        doc, _lines = _yaml.load(path, APPROVALS_MAX_BYTES)
    except _yaml.LoadError as exc:
        if exc.code == "yaml.not_found":
            return []
        where = text(lang, "approval.where.line", file=name, line=exc.line) if exc.line else name
        raise ApprovalError("%s: %s" % (where, exc.render(lang)))
    if doc is None:
        return []
    if not isinstance(doc, dict) or "approvals" not in doc:
        raise ApprovalError(text(lang, "approval.not_a_list", source=name))
    unknown = [_yaml.short(k) for k in doc if k != "approvals"]
    if unknown:
        raise ApprovalError(text(lang, "approval.invalid", source=name, n=0,
                                 detail=text(lang, "approval.field.unknown", field=", ".join(unknown))))
    return check_entries(doc["approvals"] or [], name, lang)


def _refuse(entry, lang, now, approvers, run_identities, separation_of_duties):
    """(why this approval of the right decision cannot count - a catalog text or None, approved_at, expires_at or
    None); the times parsed once here serve resolve()."""
    where = entry.get("source", "approvals")
    by = entry.get("approved_by")
    problem = identity_problem(by)
    if problem:
        return text(lang, "approval.refused.identity", source=where, why=text(lang, problem)), None, None
    if identity_problem(entry.get("reason")):  # blank or invisible: the same test as a name
        return text(lang, "approval.refused.reason", source=where), None, None
    if approvers and identity_key(by) not in set(identity_key(a) for a in approvers):
        return text(lang, "approval.refused.approver", source=where, by=_yaml.short(by),
                    approvers=", ".join(approvers)), None, None
    if separation_of_duties:
        if not run_identities:
            return text(lang, "approval.refused.no_identity", source=where), None, None
        for who in run_identities:
            # A principal like ana@example.org is the account ana too.
            if identity_key(who) in (identity_key(by), identity_key(str(by).rpartition("@")[0] or by)):
                return text(lang, "approval.refused.self", source=where, by=_yaml.short(by)), None, None
    at = parse_time(entry.get("approved_at"), lang, "%s approved_at" % where)
    if at > now + CLOCK_SKEW:
        return text(lang, "approval.refused.future", source=where, at=iso(at)), at, None
    expires = parse_time(entry["expires_at"], lang, "%s expires_at" % where) if entry.get("expires_at") else None
    if expires is not None and expires <= at:
        return text(lang, "approval.refused.expiry_before", source=where), at, expires
    return None, at, expires


def resolve(decision, approvals, now=None, approvers=(), run_identities=(), separation_of_duties=False,
            validity="7d", lang="pt-BR", signature_check=None):
    """The decision with its status and answer from the approvals that count for it.

    Approvals that name this decision but do not count leave a reason in ``refusals``
    (another SSOT digest, an option not offered, expired, dated in the future, a name
    that cannot identify a person, an approver not allowed, the runner approving its own
    run under separation of duties, or no way to tell who runs it), and, through
    ``signature_check`` (entry -> (refusal or None, key fingerprint or None)), a signature
    missing, invalid or by someone else. The last approval that counts wins. Other
    decisions' approvals are not this decision's business.
    """
    now = now or utc_now()
    resolved = dict(decision)
    resolved.pop("refusals", None)
    refusals = []
    offered = set(o["id"] for o in decision.get("options") or [])
    span = _validity(validity)
    for entry in approvals:
        if entry.get("decision") != decision["id"]:
            continue
        where = entry.get("source", "approvals")
        if entry.get("ssot_digest") != decision.get("ssot_digest"):
            refusals.append(text(lang, "approval.refused.digest", source=where, got=entry.get("ssot_digest"),
                                 want=decision.get("ssot_digest")))
            continue
        chosen = str(entry.get("option"))
        if chosen not in offered and chosen != REJECT_OPTION:
            refusals.append(text(lang, "approval.refused.option", source=where, option=_yaml.short(chosen),
                                 options=", ".join(sorted(offered)) + ", " + REJECT_OPTION))
            continue
        why, key = signature_check(entry) if signature_check else (None, None)
        if not why:
            try:
                why, at, expires = _refuse(entry, lang, now, approvers, run_identities, separation_of_duties)
            except ApprovalError as exc:
                why = str(exc)
        if why:
            refusals.append(why)
            continue
        by = " ".join(str(entry["approved_by"]).split())
        try:
            until = expires or (at + span if span else None)
        except OverflowError:
            until = None
        if until is None:
            # No expiry and no valid SSOT validity: an approval without an end does not count.
            refusals.append(text(lang, "approval.refused.no_expiry", source=where))
            continue
        answer = {"option": chosen, "by": by, "at": iso(at), "until": iso(until), "signed": key is not None}
        if key:
            answer["key"] = key
        if entry.get("reason"):
            answer["reason"] = str(entry["reason"])
        if until <= now:
            refusals.append(text(lang, "approval.refused.expired", source=where, until=iso(until)))
            resolved.update(status=EXPIRED, answer=answer)
            continue
        resolved.update(status=REJECTED if chosen == REJECT_OPTION else APPROVED, answer=answer)
    if refusals:
        resolved["refusals"] = refusals
    return resolved


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def how_to_approve(lang, decision, approvals_path="approvals.yml"):
    return text(lang, "decision.how_to_approve", id=decision["id"], path=approvals_path,
                options="|".join(o["id"] for o in decision.get("options") or []),
                digest=decision.get("ssot_digest") or "")


def argument_spec():
    """Options of the modules that raise decisions; documented by the ssot.governance.decisions
    doc fragment (a unit test keeps the two equal)."""
    return dict(
        ssot_digest=dict(type="str", required=True),
        hitl=dict(type="dict", default={}, options=dict(
            approvals_file=dict(type="path"),
            approvals=dict(type="list", elements="dict", default=[]),
            approvers=dict(type="list", elements="str", default=[]),
            approval_validity=dict(type="str", default="7d"),
            separation_of_duties=dict(type="bool", default=False),
            run_identities=dict(type="list", elements="str", default=[]),
            extra_var_approvals=dict(type="bool", default=False),
            allowed_signers=dict(type="path"),
            require_signatures=dict(type="bool", default=False),
            # Read and checked on the controller, where the workspace is (docs/fleet.md): the approvals file's
            # entries (or why it could not be read) and the allowed-signers file's text.
            file_approvals=dict(type="list", elements="dict"),
            file_approvals_error=dict(type="str"),
            allowed_signers_text=dict(type="str"),
        )),
        language=dict(type="str", choices=["pt-BR", "en"], default="pt-BR"),
    )


def _signers_here(path, content):
    """The allowed-signers file to verify with on this host: the controller's path when it is readable here (the
    controller is the target), else a private copy of the text the controller read, removed when the module ends."""
    if not path:
        return None
    if content is None or os.path.isfile(path):
        return path
    import atexit
    import tempfile
    fd, copy = tempfile.mkstemp(prefix="ssot-allowed-signers-")
    atexit.register(_remove_quietly, copy)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    return copy


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Policy(object):
    """The approvals in force and the SSOT's rules for them, from a module's parameters."""

    def __init__(self, params, now=None):
        self.lang = params.get("language") or "pt-BR"
        self.digest = params["ssot_digest"]
        hitl = params.get("hitl") or {}
        if hitl.get("file_approvals_error"):
            raise ApprovalError(hitl["file_approvals_error"])
        if hitl.get("file_approvals") is not None:
            # Read and schema-checked on the controller (the ssot_info action), like the launcher's entries.
            self.approvals = [dict(e) for e in hitl["file_approvals"]] + [
                dict(e, source="ssot_approvals #%d" % n, channel=EXTRA_VARS)
                for n, e in enumerate(launcher_approvals(hitl.get("approvals") or [], self.lang), 1)]
        else:
            self.approvals = load_approvals(hitl.get("approvals_file"), self.lang) + extra_var_entries(
                hitl.get("approvals") or [], self.lang)
        self.approvers = hitl.get("approvers") or []
        self.validity = hitl.get("approval_validity") or "7d"
        self.separation = bool(hitl.get("separation_of_duties"))
        self.run_identities = list(hitl.get("run_identities") or [])
        self.extra_var_approvals = bool(hitl.get("extra_var_approvals"))
        self._signers_given = (hitl.get("allowed_signers"), hitl.get("allowed_signers_text"))
        self._signers_file = None
        self.require_signatures = bool(hitl.get("require_signatures"))
        self.now = now or utc_now()
        self._verdicts = {}

    @property
    def allowed_signers(self):
        """The allowed-signers file on this host; a copy is written only when a signature is checked."""
        if self._signers_file is None:
            self._signers_file = _signers_here(*self._signers_given) or ""
        return self._signers_file or None

    def signature(self, entry):
        """(why ``entry`` cannot count for its signature - a catalog text - or None, the signing key or None)."""
        source = entry.get("source", "approvals")
        if source not in self._verdicts:
            self._verdicts[source] = self._signature(entry, source)
        return self._verdicts[source]

    def _signature(self, entry, source):
        from ansible_collections.ssot.governance.plugins.module_utils import _sshsig
        lang = self.lang
        signature = entry.get("signature")
        if not signature:
            return (text(lang, "approval.refused.unsigned", source=source) if self.require_signatures else None), None
        if not self.allowed_signers:
            return text(lang, "approval.refused.no_signers", source=source), None
        try:
            verdict = _sshsig.verify(_sshsig.approval_payload(entry), signature, entry.get("approved_by"),
                                     _sshsig.APPROVAL_NAMESPACE, self.allowed_signers, self.now)
        except _sshsig.SignatureError as exc:
            return text(lang, "approval.refused.unverifiable", source=source,
                        why=exc.render(lang)), None
        if not verdict.ok:
            return text(lang, "approval.refused.signature", source=source,
                        why=text(lang, verdict.code, key=verdict.key, **verdict.params)), None
        return None, verdict.key

    def resolve(self, decision):
        approvals = self.approvals
        refusals = []
        if not self.extra_var_approvals:
            refusals = [text(self.lang, "approval.refused.extra_var", source=a["source"]) for a in approvals
                        if a.get("channel") == EXTRA_VARS and a.get("decision") == decision["id"]]
            approvals = [a for a in approvals if a.get("channel") != EXTRA_VARS]
        resolved = resolve(decision, approvals, self.now, self.approvers, self.run_identities, self.separation,
                           self.validity, self.lang, self.signature)
        if refusals:
            resolved["refusals"] = refusals + resolved.get("refusals", [])
        resolved["how_to_approve"] = how_to_approve(self.lang, resolved)
        return resolved


EXTRA_VARS = "extra_vars"


def launcher_approvals(value, lang="pt-BR"):
    """The extra var ssot_approvals as a list of entries: a list, one entry, ``{approvals: [...]}``, or any of
    those as YAML/JSON text (what an AWX survey's text area gives), read by the strict reader."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, str):
        if len(value.encode("utf-8", "replace")) > APPROVALS_MAX_BYTES:
            raise ApprovalError(text(lang, "approval.invalid", source="ssot_approvals", n=0,
                                     detail=text(lang, "yaml.too_large", size=len(value), limit=APPROVALS_MAX_BYTES)))
        try:
            value = _yaml.parse(value)[0]
        except _yaml.LoadError as exc:
            raise ApprovalError(text(lang, "approvals.launcher_invalid", error=exc.render(lang)))
    if isinstance(value, dict):
        value = value["approvals"] if set(value) == {"approvals"} else [value]
    return value if isinstance(value, list) else [value]


def extra_var_entries(entries, lang="pt-BR"):
    """Approvals given as the extra var ssot_approvals, marked as such (they count only when the SSOT says so)."""
    return [dict(e, channel=EXTRA_VARS) for e in check_entries(launcher_approvals(entries, lang), "ssot_approvals",
                                                               lang)]


def unapproved(decisions):
    return [d for d in decisions if d["status"] != APPROVED]


LETTERS = "ABCDEFGHIJ"
_ANSWER = {
    "pt-BR": (re.compile(r"^\s*aprovar\s+([a-j])\s*$", re.I), re.compile(r"^\s*rejeitar\s*$", re.I)),
    "en": (re.compile(r"^\s*approve\s+([a-j])\s*$", re.I), re.compile(r"^\s*reject\s*$", re.I)),
}


def letters(decision):
    """Option letter -> option id, in the decision's order (A is the first option)."""
    return dict(zip(LETTERS, [o["id"] for o in decision.get("options") or []]))


def parse_answer(answer, decision, lang="pt-BR"):
    """An explicit terminal answer -> the option id, ``reject``, or None (anything else: ask again)."""
    approve, reject = _ANSWER.get(lang, _ANSWER["pt-BR"])
    text_value = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer or "")
    if reject.match(text_value):
        return REJECT_OPTION
    m = approve.match(text_value)
    if m:
        return letters(decision).get(m.group(1).upper())
    return None


def card(decision, lang="pt-BR"):
    """The decision card an operator reads before answering."""
    lines = [text(lang, "hitl.card.title", id=decision["id"], title=decision.get("title", ""))]
    if decision.get("context"):
        lines.append(text(lang, "hitl.card.context", context=decision["context"]))
    lines.append(text(lang, "hitl.card.options"))
    for letter, option in zip(LETTERS, decision.get("options") or []):
        label = re.sub(r"^[A-J]: ", "", option.get("label", option["id"]))
        lines.append("  %s) %s [%s]" % (letter, label, option["id"]))
    if decision.get("risk"):
        lines.append(text(lang, "hitl.card.risk", risk=decision["risk"]))
    if decision.get("rollback"):
        lines.append(text(lang, "hitl.card.rollback", rollback=decision["rollback"]))
    choices = ", ".join('"%s"' % text(lang, "hitl.answer.approve", letter=letter) for letter in letters(decision))
    lines.append(text(lang, "hitl.card.answer", choices=choices, reject=text(lang, "hitl.answer.reject")))
    return "\n".join(lines)


def paste_entry(decision, option=None, lang="pt-BR"):
    """A ready-to-paste approvals.yml entry (YAML text) for ``decision``."""
    opts = [o["id"] for o in decision.get("options") or []]
    return ("  - decision: %s\n    option: %s   # %s\n    approved_by: %s\n"
            "    approved_at: \"%s\"\n    reason: %s\n    ssot_digest: %s\n"
            % (decision["id"], option if option in opts else (opts[0] if opts else "?"),
               " | ".join(opts + [REJECT_OPTION]), text(lang, "hitl.paste.by"), iso(utc_now()),
               text(lang, "hitl.paste.reason"), decision.get("ssot_digest")))


def outcome(resolved, approvals, proceed_options, interactive=False, approvals_path="approvals.yml", lang="pt-BR",
            signed=False):
    """The gate's verdict over resolved decisions: what may change, what is settled without it, what waits
    (with the message naming each, why approvals did not count, and ready-to-paste entries - or, when the SSOT
    requires ``signed`` approvals, the approve playbook command for each)."""
    proceed, declined, pending, refusals = [], [], [], []
    for d in resolved:
        refusals.extend(d.get("refusals") or [])
        if d["status"] == APPROVED and d["answer"]["option"] in proceed_options:
            proceed.append(d["id"])
        elif d["status"] in (APPROVED, REJECTED):
            declined.append(d["id"])
        else:
            pending.append(d["id"])
    waiting = [d for d in resolved if d["id"] in pending]
    for d in waiting:
        # An approval of an earlier version of the same divergence (other facts, so another id) is named too.
        family = d["id"].rsplit(".", 1)[0]
        for entry in approvals:
            other = str(entry.get("decision", ""))
            if other != d["id"] and other.rsplit(".", 1)[0] == family:
                refusals.append(text(lang, "approval.refused.other_version", source=entry["source"],
                                     other=other, id=d["id"]))
    first_option = next(iter(proceed_options), None)
    paste = "approvals:\n" + "".join(paste_entry(d, first_option, lang) for d in waiting) if waiting else ""
    if waiting:
        mode = text(lang, "hitl.mode.interactive" if interactive else "hitl.mode.noninteractive")
        lines = [text(lang, "hitl.fail_closed_signed" if signed else "hitl.fail_closed", count=len(waiting),
                      mode=mode, path=approvals_path)]
        lines += ["  [%s] %s (%s)" % (d["id"], d.get("title", ""), d["status"]) for d in waiting]
        if signed:
            workspace = os.path.dirname(approvals_path)
            lines += refusals + [""] + [text(lang, "hitl.sign.use_approve", id=d["id"], workspace=workspace)
                                        for d in waiting]
        else:
            lines += refusals + ["", paste]
        msg = "\n".join(lines)
    else:
        msg = "proceed: %s; declined: %s" % (", ".join(proceed) or "-", ", ".join(declined) or "-")
    return dict(changed=False, decisions=resolved, proceed=proceed, declined=declined, pending=pending,
                refusals=refusals, cards=dict((d["id"], card(d, lang)) for d in waiting), paste=paste, msg=msg,
                name_prompt=text(lang, "hitl.ask.name"))
