# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions a human must take, with stable ids, and the reading of approval entries.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + PyYAML.

A decision id is derived from what it is about (its kind, its subject and the facts that make it a divergence),
so the same deviation raises the same id on every run and an approval recorded once keeps counting; a different
divergence (another sha256, another value) gets another id and needs its own approval.

Modules (on the target) raise decisions pending, with their facts. Whether an approval counts is decided on the
controller only (``plugin_utils/_policy.py``): approvals and signers are never sent to a target host.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import unicodedata

from ansible_collections.ssot.governance.plugins.module_utils import _model, _yaml
from ansible_collections.ssot.governance.plugins.module_utils._text import catalog, human_size, message as text, shown

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
REJECT_OPTION = "reject"

_SAFE = re.compile(r"[^a-z0-9_.-]+")
_ID = re.compile(r"^([a-z]+)\.(.+)\.([0-9a-f]{8})$")


class ApprovalError(Exception):
    """approvals.yml cannot be read; the message says what to fix."""


def _subject(subject):
    return (_SAFE.sub("-", str(subject).lower()).strip("-.") or "x")[:60]


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def decision_id(kind, subject, facts):
    """``<kind>.<subject>.<8 hex>``: the hex part is a digest of the kind, the subject and the facts (expected,
    found ...), so the same divergence has the same id on every run and another one another id."""
    subject = _subject(subject)
    digest = hashlib.sha256(_canonical([kind, subject, facts]).encode("utf-8")).hexdigest()[:8]
    return "%s.%s.%s" % (kind, subject, digest)


def split_id(decision_id_):
    """(kind, subject, hex) of a decision id, or None when it is not one."""
    m = _ID.match(decision_id_) if isinstance(decision_id_, str) else None
    return m.groups() if m else None


def consistent(decision):
    """Whether a decision is what its id says: a kind of the model, an id that is the digest of its own facts, only
    options its kind offers, and facts of its kind's shape (its words render from them). A decision that is not (a
    hostile target, an edited record) is refused."""
    if not isinstance(decision, dict):
        return False
    parts = split_id(decision.get("id"))
    if not parts or parts[0] not in _model.DECISION_KINDS or not isinstance(decision.get("facts"), dict):
        return False
    if decision_id(parts[0], parts[1], decision["facts"]) != decision["id"]:
        return False
    options = decision.get("options")
    offered = _model.DECISION_KINDS[parts[0]]
    return isinstance(options, list) and bool(options) and all(
        isinstance(o, dict) and o.get("id") in offered for o in options) and rendered_again(decision, "en") is not None


# The phase a rollback decision belongs to, by the subject it undoes.
ROLLBACK_PHASE = {"settings": "validate", "pg_hba": "expose", "exposure": "expose", "ingest": "ingest"}


def size_bound(n):
    """A size as a stable bound (the next power of two MiB at or above it: ``≤ 64.0 MiB``), so a fact that shows a
    size keeps its decision id while the data grows a little."""
    bound = 1 << 20
    while bound < int(n or 0):
        bound <<= 1
    return "≤ " + human_size(bound)


def _fill(lang, code, params):
    """A catalog text filled with ``params`` (texts a target sent are never used). KeyError when there is no such
    text: a decision whose facts name none is not one the collection raises."""
    if code not in catalog(lang):
        raise KeyError(code)
    return text(lang, code, **params)


def _listed(values, limit=10):
    return "; ".join(str(v) for v in (values or [])[:limit]) or "-"


OWNER_HOW = ("named", "named_super", "create", "source")


def _owner(facts, lang):
    """Who owns what a load restores, as the card says it (facts ``owner`` and ``owner_how``: _ingest.load_owner)."""
    if facts.get("owner_how") not in OWNER_HOW:
        return "?"
    return _fill(lang, "ingest.owner.%s" % facts["owner_how"], dict(owner=shown(str(facts.get("owner")))))


def presentation(kind, subject, facts, lang):
    """The words of a decision - phase, title, context, risk, rollback - rendered from its kind and facts only.

    One function for both sides: a module builds its decisions with it, and the controller renders every decision it
    settles again with it, so no text a target (or a record) carries reaches an approver. KeyError or TypeError
    when the facts are not of the kind's shape (the controller then refuses the decision)."""
    f = facts
    if kind == "validate":
        actual = f.get("actual") if f.get("actual") is not None else f.get("error")
        return {"phase": "validate",
                "title": _fill(lang, "validate.deviation.title", dict(id=f.get("check"), expected=f.get("expected"),
                                                                      actual=actual)),
                "context": _fill(lang, "validate.deviation.context", dict(sql=f.get("sql") or "-", expected=f.get(
                    "expected"), actual=actual)),
                "risk": _fill(lang, "validate.deviation.risk", {}),
                "rollback": _fill(lang, "validate.deviation.rollback", {})}
    if kind == "finding":
        code, params = f["code"], f.get("params") or {}
        if not isinstance(code, str) or not re.match(r"^[a-z_]+$", code) or not isinstance(params, dict):
            raise TypeError("finding")
        explain = _fill(lang, "finding.%s.explain" % code, params)
        return {"phase": "validate", "title": _fill(lang, "finding.%s.title" % code, params),
                "context": _fill(lang, "validate.finding.context", dict(explain=explain)), "risk": explain,
                "rollback": _fill(lang, "validate.deviation.rollback", {})}
    if kind == "inventory":
        out = {"risk": _fill(lang, "inventory.risk", {}), "rollback": _fill(lang, "inventory.rollback", {})}
        if "field" not in f:
            words = dict(id=f.get("artifact"), version=f.get("engine"), format=f.get("format"), path=f.get("path"))
            out.update(phase="provision", title=_fill(lang, "inventory.title.engine", words),
                       context=_fill(lang, "inventory.context.engine", words))
            return out
        field = f["field"]
        if field not in ("presence", "format", "sha256", "image", "platform"):
            raise KeyError(field)
        words = dict(id=f.get("artifact"), path=f.get("path"), expected=f.get("expected"), actual=f.get("actual"))
        unpinned = field == "sha256" and f.get("expected") is None
        if field == "platform":
            words.update(expected=f.get("expected") or "-", actual=f.get("actual") or "-")
            out.update(phase="inventory", title=_fill(lang, "inventory.title.platform", words),
                       context=_fill(lang, "inventory.context.platform", words))
            return out
        out.update(phase="inventory", title=_fill(lang, "inventory.title.%s" % ("sha256_unpinned" if unpinned else field),
                                                  words),
                   context=_fill(lang, "inventory.context.sha256_unpinned" if unpinned else "inventory.context", words))
        return out
    if kind == "snapshot":
        out = {"phase": "snapshot", "rollback": _fill(lang, "snapshot.rollback", {})}
        if subject == "size":
            gib = int(f["estimate_gib"])
            words = dict(estimate="< 1 GiB" if gib < 1 else "~%d GiB" % gib, limit=human_size(f["limit"]),
                         free=_fill(lang, "snapshot.size.free.short" if f.get("beyond_free") else
                                    "snapshot.size.free.enough", {}))
            out.update(title=_fill(lang, "snapshot.size.title", words), context=_fill(lang, "snapshot.size.context",
                                                                                      words),
                       risk=_fill(lang, "snapshot.size.risk", {}))
            return out
        if subject == "image_save":
            words = dict(container=f.get("container"), size=f.get("size") or "?")
            out.update(title=_fill(lang, "snapshot.image_save.title", words),
                       context=_fill(lang, "snapshot.image_save.context", words),
                       risk=_fill(lang, "snapshot.image_save.risk", {}))
            return out
        raise KeyError(subject)
    if kind == "ingest":
        action = f["action"]
        if action not in ("load", "reload"):
            raise KeyError(action)
        words = dict(database=f.get("database"), source=f.get("source"), target=f.get("target"),
                     size=f.get("size") or "?", method=f.get("method") or "?", owner=_owner(f, lang),
                     count=f.get("count", len(f.get("tables") or [])), tables=", ".join(
                         str(t) for t in (f.get("tables") or [])[:10]))
        return {"phase": "ingest", "title": _fill(lang, "ingest.%s.title" % action, words),
                "context": _fill(lang, "ingest.%s.context" % action, words),
                "risk": _fill(lang, "ingest.%s.risk" % action, words), "rollback": _fill(lang, "ingest.rollback", {})}
    if kind == "rollback":
        what = subject
        if what not in ROLLBACK_PHASE:
            raise KeyError(what)
        if what == "settings":
            words = dict(items=", ".join("%s -> %s" % (e.get("name"), e.get("to")) for e in f.get("restore") or []))
        elif what == "pg_hba":
            words = dict(restores=_listed(f.get("adds")), removes=_listed(f.get("removes")))
        elif what == "exposure":
            words = dict(kept=f.get("brings_back"), before=f.get("publishes"), changes=_listed(f.get("changes"), 20))
        else:
            words = dict(snapshot=f.get("snapshot") or "-", databases=", ".join(
                str(d) for d in f.get("databases") or []), changes=_listed(f.get("changes"), 20))
        return {"phase": ROLLBACK_PHASE[what],
                "title": _fill(lang, "change.rollback.title", dict(subject=what, at=(f.get("point") or {}).get("at"))),
                "context": _fill(lang, "change.rollback.%s" % what, words), "risk": _fill(lang, "rollback.risk", {}),
                "rollback": _fill(lang, "change.rollback.undo", {})}
    raise KeyError(kind)


def build(kind, subject, facts, option_ids, ssot_digest, lang):
    """A pending decision: its id from the facts, its words from its kind and facts (``presentation``), its options
    in the kind's own order with the catalog's labels."""
    offered = _model.DECISION_KINDS[kind]
    words = presentation(kind, _subject(subject), facts, lang)
    decision = {"id": decision_id(kind, subject, facts), "phase": _model.phase(words.pop("phase")).number,
                "facts": facts,
                "options": [{"id": o, "label": text(lang, _model.option_label_key(o))} for o in offered
                            if o in option_ids],
                "ssot_digest": ssot_digest, "status": PENDING}
    decision.update(words)
    return decision


def rendered_again(decision, lang):
    """A decision with the words and phase its kind and facts give (whatever words it carried); None when its facts
    are not of its kind's shape."""
    parts = split_id(decision.get("id"))
    try:
        words = presentation(parts[0], parts[1], decision["facts"], lang)
        return dict(decision, phase=_model.phase(words.pop("phase")).number, **words)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


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


def entry_digest(entry):
    """sha256 of an approval entry as written (without where it was read): what a decision's answer keeps, so that
    an approvals file edited after the change it governed is found (runbook_verify)."""
    body = dict((k, v) for k, v in entry.items() if k != "source")
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                                     default=str).encode("ascii")).hexdigest()


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


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def argument_spec():
    """Options of the modules that raise decisions; documented by the ssot.governance.decisions doc fragment (a
    unit test keeps the two equal). Approvals and signers never reach a module: the controller settles decisions."""
    return dict(
        ssot_digest=dict(type="str", required=True),
        language=dict(type="str", choices=["pt-BR", "en"], default="pt-BR"),
    )


def unapproved(decisions):
    return [d for d in decisions if d["status"] != APPROVED]
