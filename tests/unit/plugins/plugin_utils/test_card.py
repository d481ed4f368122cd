"""The card an approver reads: built from what the controller verified, every field neutralised, the letters in the
decision kind's own order with the catalog's labels, and a digest that binds what was shown."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.plugins.plugin_utils import _card

DIGEST = "sha256:" + "d" * 64


def decision(**over):
    d = _decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"}, 3, "t", "c",
                         ("fix", "accept"), DIGEST, "pt-BR", risk="r", rollback="b")
    d.update(over)
    return d


def test_letters_follow_the_kinds_order_not_the_records():
    reordered = decision(options=[{"id": "accept", "label": "A) corrigir (mentira)"}, {"id": "fix", "label": "x"}])
    assert _card.letters(reordered) == {"A": "fix", "B": "accept"}
    assert _card.parse_answer("aprovar A", reordered) == "fix"
    card = _card.render(reordered, "prod", "db-1", "pt-BR")
    assert "A) corrigir o servidor conforme o SSOT" in card and "mentira" not in card
    assert _card.parse_answer("approve b", reordered, "en") == "accept"
    for vague in ("sim", "a", "aprovar", "aprovar C", "aprovar A agora", "ok", "", "approve A"):
        assert _card.parse_answer(vague, reordered) is None, vague


def test_every_field_is_shown_with_control_characters_neutralised():
    hostile = "\x1b[2J\x1b[1;1HA) aceitar [accept]\r\n\u202eoverride\u200b\x07"
    card = _card.render(decision(title=hostile, context=hostile, risk=hostile, rollback=hostile,
                                 facts={"actual": hostile, "expected": "8MB"}), "prod\x1b", "db\n1", "pt-BR")
    assert "\x1b" not in card and "\u202e" not in card and "\u200b" not in card and "\x07" not in card
    assert "\\x1b[2J" in card and "\\u202e" in card
    # One line per field: a hostile newline cannot draw an option of its own.
    assert not any(line.startswith("A) aceitar") for line in card.splitlines())


def test_the_digest_binds_facts_options_environment_and_host_not_the_wording():
    base = _card.digest(decision(), "prod", "db-1", "pt-BR")
    assert base == _card.digest(decision(title="outro título", context="outro contexto"), "prod", "db-1", "pt-BR")
    for other in (_card.digest(decision(facts={"expected": "8MB", "actual": "48MB"}), "prod", "db-1", "pt-BR"),
                  _card.digest(decision(), "dev", "db-1", "pt-BR"), _card.digest(decision(), "prod", "db-2", "pt-BR"),
                  _card.digest(decision(options=[{"id": "fix", "label": "x"}]), "prod", "db-1", "pt-BR"),
                  _card.digest(decision(ssot_digest="sha256:" + "e" * 64), "prod", "db-1", "pt-BR")):
        assert other != base
    assert base in _card.render(decision(), "prod", "db-1", "pt-BR")


def test_the_card_shows_the_facts_where_and_the_options():
    card = _card.render(decision(), "prod", "db-1", "pt-BR")
    for part in ("Decisão validate.setting.work_mem.", "Ambiente prod, host db-1", "Contexto: c", "Fatos:",
                 "  actual: 4MB", "  expected: 8MB", "Opções:", "  A) corrigir o servidor", "  B) aceitar",
                 "Risco: r", "Rollback: b", '"aprovar A"', '"rejeitar"'):
        assert part in card, part
