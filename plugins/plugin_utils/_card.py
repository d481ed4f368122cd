# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision card an approver reads, and the digest of it that an approval's signature binds.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

A card is built only from what the controller verified (a decision a controller action of this run settled, or a
journal line whose chain and seal hold): its facts, the environment and host it is about, the SSOT digest, and the
options in the decision kind's own order with the catalog's labels - never the option list or labels a record
carries. Every field is shown with control characters neutralised, so no text can redraw the terminal. The card's
digest covers the facts and the lettered options: an approval of a card that differs from the decision at the
moment of the change does not count.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from ansible_collections.ssot.governance.plugins.module_utils import _model
from ansible_collections.ssot.governance.plugins.module_utils._decisions import REJECT_OPTION, rendered_again, split_id
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text

LETTERS = "ABCDEFGHIJ"
_ANSWER = {
    "pt-BR": (re.compile(r"^\s*aprovar\s+([a-j])\s*$", re.I), re.compile(r"^\s*rejeitar\s*$", re.I)),
    "en": (re.compile(r"^\s*approve\s+([a-j])\s*$", re.I), re.compile(r"^\s*reject\s*$", re.I)),
}
# Control, format (bidi overrides, zero-width), separators other than the space, private use, unassigned.
_HIDDEN = ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")
FIELD_LIMIT = 2000


def neutral(value, limit=FIELD_LIMIT):
    """A value as one visible line: every control or invisible character shown as its code (``\\x1b``,
    ``\\u202e``), never acted on by a terminal; long texts cut (``limit`` None: never)."""
    if isinstance(value, str):
        text_value = value
    else:
        text_value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    out = []
    for ch in text_value:
        if unicodedata.category(ch) in _HIDDEN:
            code = ord(ch)
            out.append("\\x%02x" % code if code < 0x100 else "\\u%04x" % code if code < 0x10000 else "\\U%08x" % code)
        else:
            out.append(ch)
    shown = "".join(out)
    return shown if limit is None or len(shown) <= limit else shown[:limit] + "…"


def kind_of(decision):
    parts = split_id(decision.get("id"))
    return parts[0] if parts and parts[0] in _model.DECISION_KINDS else None


def options(decision, lang):
    """[(letter, option id, label)] of the options the decision offers, in its kind's order, with the catalog's
    labels: what the letters mean does not depend on the record's own list."""
    kind = kind_of(decision)
    offered = set(o.get("id") for o in decision.get("options") or [] if isinstance(o, dict))
    ordered = [o for o in (_model.DECISION_KINDS.get(kind) or ()) if o in offered]
    return [(letter, o, text(lang, _model.option_label_key(o))) for letter, o in zip(LETTERS, ordered)]


def letters(decision, lang="pt-BR"):
    """Option letter -> option id, in the decision kind's order."""
    return dict((letter, o) for letter, o, dummy in options(decision, lang))


def fields(decision, environment, host, lang):
    """What the card binds: decision, environment, host, SSOT digest, facts and the lettered options."""
    return {"id": decision.get("id"), "environment": environment, "host": host,
            "ssot_digest": decision.get("ssot_digest"), "facts": decision.get("facts") or {},
            "options": [list(o) for o in options(decision, lang)]}


def digest(decision, environment, host, lang):
    body = json.dumps(fields(decision, environment, host, lang), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, default=str)
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def render(decision, environment, host, lang):
    """The card an approver reads before answering, every field neutralised; its words are rendered again from the
    decision's kind and facts (a record's own title, context, risk or rollback text is never shown)."""
    decision = rendered_again(decision, lang) or dict(decision, title="?", context="", risk="", rollback="")
    lines = [text(lang, "hitl.card.title", id=neutral(decision.get("id")), title=neutral(decision.get("title", "")))]
    lines.append(text(lang, "hitl.card.where", environment=neutral(environment), host=neutral(host),
                      digest=neutral(decision.get("ssot_digest"))))
    if decision.get("context"):
        lines.append(text(lang, "hitl.card.context", context=neutral(decision["context"])))
    facts = decision.get("facts") or {}
    if facts:
        lines.append(text(lang, "hitl.card.facts"))
        for key in sorted(facts):
            lines.extend(_fact_lines(key, facts[key]))
    lines.append(text(lang, "hitl.card.options"))
    for letter, option_id, label in options(decision, lang):
        lines.append("  %s) %s [%s]" % (letter, label, option_id))
    if decision.get("risk"):
        lines.append(text(lang, "hitl.card.risk", risk=neutral(decision["risk"])))
    if decision.get("rollback"):
        lines.append(text(lang, "hitl.card.rollback", rollback=neutral(decision["rollback"])))
    lines.append(text(lang, "hitl.card.digest", card=digest(decision, environment, host, lang)))
    choices = ", ".join('"%s"' % text(lang, "hitl.answer.approve", letter=letter) for letter in letters(decision, lang))
    lines.append(text(lang, "hitl.card.answer", choices=choices, reject=text(lang, "hitl.answer.reject")))
    return "\n".join(lines)


def _fact_lines(key, value):
    """A fact as the card shows it: whole (a fact is what the change acts on - nothing of it is cut), a list one
    item per line, a mapping one key per line."""
    if isinstance(value, list) and value:
        return ["  %s:" % neutral(key, 80)] + ["    - %s" % neutral(item, None) for item in value]
    if isinstance(value, dict) and value:
        return ["  %s:" % neutral(key, 80)] + [
            "    %s: %s" % (neutral(k, None), neutral(value[k], None)) for k in sorted(value, key=str)]
    return ["  %s: %s" % (neutral(key, 80), neutral(value, None))]


def parse_answer(answer, decision, lang="pt-BR"):
    """An explicit answer -> the option id, ``reject``, or None (anything else: ask again)."""
    approve, reject = _ANSWER.get(lang, _ANSWER["pt-BR"])
    typed = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer or "")
    if reject.match(typed):
        return REJECT_OPTION
    m = approve.match(typed)
    if m:
        return letters(decision, lang).get(m.group(1).upper())
    return None


def label_of(decision, option_id, lang):
    """The catalog label of an option (or of reject), as the card shows it."""
    if option_id == REJECT_OPTION:
        return text(lang, "hitl.answer.reject")
    return text(lang, _model.option_label_key(option_id))
