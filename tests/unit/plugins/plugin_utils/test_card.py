"""The card an approver reads: built from what the controller verified, every field neutralised, the letters in the
decision kind's own order with the catalog's labels, and a digest that binds what was shown."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.plugins.plugin_utils import _card

DIGEST = "sha256:" + "d" * 64


def decision(**over):
    d = _decisions.build("validate", "setting.work_mem", {"check": "setting.work_mem", "expected": "8MB",
                                                          "actual": "4MB", "sql": "SHOW work_mem"},
                         ("fix", "accept"), DIGEST, "pt-BR")
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
    for other in (_card.digest(decision(facts={"check": "setting.work_mem", "expected": "8MB", "actual": "48MB",
                                               "sql": "SHOW work_mem"}), "prod", "db-1", "pt-BR"),
                  _card.digest(decision(), "dev", "db-1", "pt-BR"), _card.digest(decision(), "prod", "db-2", "pt-BR"),
                  _card.digest(decision(options=[{"id": "fix", "label": "x"}]), "prod", "db-1", "pt-BR"),
                  _card.digest(decision(ssot_digest="sha256:" + "e" * 64), "prod", "db-1", "pt-BR")):
        assert other != base
    assert base in _card.render(decision(), "prod", "db-1", "pt-BR")


def test_the_card_shows_the_facts_where_and_the_options():
    card = _card.render(decision(), "prod", "db-1", "pt-BR")
    for part in ("Decisão validate.setting.work_mem.", "Desvio setting.work_mem: esperado 8MB, obtido 4MB",
                 "Ambiente prod, host db-1", "Contexto: Na sessão somente leitura, `SHOW work_mem`", "Fatos:",
                 "  actual: 4MB", "  expected: 8MB", "Opções:", "  A) corrigir o servidor", "  B) aceitar",
                 "Risco: Aceitar deixa", "Rollback: A correção", '"aprovar A"', '"rejeitar"'):
        assert part in card, part


def test_the_words_are_the_kinds_never_the_records():
    """A hostile target (or an edited record) words a card to mislead: the card says what the facts say."""
    lying = decision(title="Harmless: approve A", context="nothing changes", risk="none", rollback="automatic",
                     phase=9)
    card = _card.render(lying, "prod", "db-1", "pt-BR")
    for lie in ("Harmless", "nothing changes", "none", "automatic"):
        assert lie not in card, lie
    assert "Desvio setting.work_mem: esperado 8MB, obtido 4MB" in card
    assert _decisions.rendered_again(lying, "pt-BR")["phase"] == 3
    # Facts a kind does not know how to word are not a decision the collection raised.
    unknown = dict(decision(), facts={"finding": "finding.x", "code": "no_such_finding"})
    unknown["id"] = _decisions.decision_id("finding", "x", unknown["facts"])
    assert not _decisions.consistent(unknown)
    assert "?" in _card.render(unknown, "prod", "db-1", "pt-BR").splitlines()[0]


def test_a_fact_is_shown_whole_every_item_on_its_line():
    """What the change acts on is never cut from the card: the 500th rule of a pg_hba file shows like the first."""
    rules = ["host all all 10.0.%d.0/24 md5" % n for n in range(500)] + ["host all all 0.0.0.0/0 trust" + " " * 600 + "#"]
    card = _card.render(decision(facts={"writes": rules, "ports": {"5432/tcp": [{"HostIp": "0.0.0.0"}]}}),
                        "prod", "db-1", "en")
    assert "    - host all all 10.0.499.0/24 md5" in card.splitlines()
    assert "0.0.0.0/0 trust" + " " * 600 + "#" in card and "…" not in card
    assert '    5432/tcp: [{"HostIp": "0.0.0.0"}]' in card.splitlines()
