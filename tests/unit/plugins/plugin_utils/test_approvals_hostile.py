"""Hostile approvals: every one that must not count is refused with a reason in the operator's language,
never a traceback, a hang, or the input echoed back."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.tests.unit._tools import resolve as policy_resolve

DIGEST = "sha256:" + "d" * 64
NOW = _decisions.parse_time("2026-11-24T12:00:00Z")
DEC = _decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"},
                       ("fix", "accept"), DIGEST, "pt-BR")


def approval(**kw):
    entry = {"decision": DEC["id"], "option": "fix", "approved_by": "Ana Souza", "approved_at": "2026-11-24T10:00:00Z",
             "reason": "SSOT manda", "ssot_digest": DIGEST, "source": "approvals.yml #1"}
    entry.update(kw)
    return entry


def resolve(entry, now=NOW, **kw):
    if kw.get("separation_of_duties"):
        kw.setdefault("accounts", {"Ana Souza": []})
    return policy_resolve(DEC, [entry], now, **kw)


@pytest.mark.parametrize("name", ["", "   ", "\u200b", "Ana\u200bSouza", "Ana\u00adSouza", "Ana\x07", "\u202eanA",
                                  "Ana\nSouza", "\ufeff"])
def test_names_that_cannot_identify_a_person_do_not_count(name):
    got = resolve(approval(approved_by=name))
    assert got["status"] == "pending" and "approved_by" in got["refusals"][0]


@pytest.mark.parametrize("runner", ["ana souza", "ＡＮＡ ＳＯＵＺＡ", "\u0410na Souza", "Ana  Souza", "Ána Souza",
                                    "ana sоuza"])  # fullwidth, Cyrillic A, double space, accent, Cyrillic o
def test_separation_of_duties_sees_through_lookalike_names(runner):
    got = resolve(approval(), run_identities=[runner], separation_of_duties=True)
    assert got["status"] == "pending" and "separação" in got["refusals"][0]


def test_separation_of_duties_fails_closed_without_an_identity():
    got = resolve(approval(), run_identities=[], separation_of_duties=True)
    assert got["status"] == "pending" and "quem executa" in got["refusals"][0]


def test_lookalike_of_an_allowed_approver_counts_as_that_approver_only():
    assert resolve(approval(approved_by="\u0410na Souza"), approvers=["Ana Souza"])["status"] == "approved"
    assert resolve(approval(approved_by="Ana Sousa"), approvers=["Ana Souza"])["status"] == "pending"


@pytest.mark.parametrize("validity", ["0m", "0h", "0d", "00w", "-1d", "", None, "7", "99999d"])
def test_a_validity_that_is_not_strictly_positive_never_means_forever(validity):
    got = resolve(approval(approved_at="2026-11-24T11:00:00Z"), validity=validity)
    assert got["status"] == "pending" and "expirar" in got["refusals"][0]


@pytest.mark.parametrize("at", ["2026-11-24T12:06:00Z", "2027-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                "2026-11-24T11:00:00-03:00", "2026-11-24T23:00:00+10:01"])
def test_an_approval_dated_in_the_future_does_not_count(at):
    got = resolve(approval(approved_at=at))
    assert got["status"] == "pending" and "futuro" in got["refusals"][0]


def test_a_little_clock_skew_is_tolerated():
    assert resolve(approval(approved_at="2026-11-24T12:04:00Z"))["status"] == "approved"


@pytest.mark.parametrize("expires", ["2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z", "2000-01-01T00:00:00Z"])
def test_an_expiry_not_after_the_approval_does_not_count(expires):
    got = resolve(approval(expires_at=expires))
    assert got["status"] == "pending" and "expires_at" in got["refusals"][0]


@pytest.mark.parametrize("at", ["yesterday", "2026-13-40T00:00:00Z", "0001-01-01T00:00:00+01:00", "99999-01-01",
                                "9999-12-31T23:59:59-23:59", 12345])
def test_bad_times_are_refused_with_a_reason_not_a_traceback(at):
    got = resolve(approval(approved_at=at))
    assert got["status"] == "pending"
    assert "approved_at" in got["refusals"][0] and str(at) not in got["refusals"][0].replace("approved_at", "")


def test_far_dates_with_the_default_validity_do_not_overflow():
    got = resolve(approval(approved_at="9999-12-31T00:00:00Z"), _decisions.parse_time("9999-12-31T12:00:00Z"))
    assert got["status"] in ("pending", "approved", "expired")


def write(tmp_path, text):
    path = tmp_path / "approvals.yml"
    path.write_text(text)
    return str(path)


def entry_yaml(**change):
    lines = ["approvals:", "  - decision: %s" % DEC["id"], "    option: fix", "    approved_by: Ana Souza",
             '    approved_at: "2026-11-24T10:00:00Z"', "    reason: ok", "    ssot_digest: %s" % DIGEST]
    return "\n".join(lines) + "\n" + "".join("    %s\n" % c for c in change.get("more", []))


@pytest.mark.parametrize("text, words", [
    (entry_yaml(more=["option: reject"]), "repetida"),                          # the last must not win
    (entry_yaml() + "approvals: []\n", "repetida"),
    (entry_yaml(more=["approved_by_2: Bia"]), "desconhecida"),
    (entry_yaml() + "extra: 1\n", "desconhecida"),
    ("approvals:\n" + "  " * 0 + "- " + "[" * 200 + "]" * 200 + "\n", "aninhamento"),
    ("approvals: " + "1" * 5000 + "\n", "milhares de dígitos"),
    ("approvals:\n  - approved_at: 2026-11-24 10:00:00.000000000000000000000001\n", "falta"),
])
def test_malformed_files_are_refused_naming_what_to_fix(tmp_path, text, words):
    with pytest.raises(_decisions.ApprovalError) as err:
        _decisions.load_approvals(write(tmp_path, text))
    assert words in str(err.value)
    assert "Traceback" not in str(err.value) and len(str(err.value)) < 600


def test_an_alias_bomb_is_refused_fast_without_echoing_it(tmp_path):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += ["a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10)) for i in range(1, 10)]
    lines.append("approvals: *a9")
    script = ("import sys; from ansible_collections.ssot.governance.plugins.module_utils import _decisions\n"
              "try:\n _decisions.load_approvals(sys.argv[1])\nexcept _decisions.ApprovalError as e:\n print(e)\n")
    # In a child process: a bomb that went off would be killed by the timeout instead of hanging the suite.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script, write(tmp_path, "\n".join(lines) + "\n")],
                          capture_output=True, text=True, timeout=10, env=env, check=False)
    assert proc.returncode == 0 and "valores" in proc.stdout and "lol" not in proc.stdout, proc.stderr[-2000:]


def test_a_fifo_is_refused_at_once(tmp_path):
    path = tmp_path / "approvals.yml"
    os.mkfifo(path)
    outcome = {}

    def load():
        try:
            _decisions.load_approvals(str(path))
        except _decisions.ApprovalError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert "arquivo comum" in outcome["error"]


def test_refusals_never_echo_a_hostile_option_whole():
    hostile = "x" * 500 + "\x1b[2J"
    got = resolve(approval(option=hostile))
    assert got["status"] == "pending" and hostile not in got["refusals"][0] and "\x1b" not in got["refusals"][0]


KEYS = ["decision", "option", "approved_by", "approved_at", "expires_at", "reason", "ssot_digest"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
                    st.datetimes(timezones=st.just(datetime.timezone.utc)).map(lambda d: d.isoformat()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS + ["who", "channel"]), scalars, max_size=9),
       st.lists(st.text(max_size=12), max_size=3), st.sampled_from(["7d", "0m", "1m", "9999w", "x"]),
       st.booleans())
def test_any_approval_resolves_or_is_refused_and_counts_only_when_it_should(entry, runners, validity, sod):
    base = approval()
    base.update(entry)
    try:
        entries = _decisions.check_entries([dict((k, v) for k, v in base.items() if k != "source")], "approvals.yml")
    except _decisions.ApprovalError as exc:
        assert "Traceback" not in str(exc)
        return
    got = resolve(entries[0], run_identities=runners, separation_of_duties=sod, validity=validity)
    if got["status"] == "approved":
        e = entries[0]
        assert e["decision"] == DEC["id"] and e["ssot_digest"] == DIGEST and e["option"] == "fix"
        assert _decisions.identity_problem(e["approved_by"]) is None
        at = _decisions.parse_time(e["approved_at"])
        assert at <= NOW + _decisions.CLOCK_SKEW
        until = _decisions.parse_time(got["answer"]["until"])
        assert until > NOW and until > at
        if sod:
            assert runners and all(_decisions.identity_key(r) != _decisions.identity_key(e["approved_by"])
                                   for r in runners)


def test_the_example_approvals_file_loads_and_holds_no_approval(tmp_path):
    path = os.path.join(os.path.dirname(__file__), "../../../../examples/legacy-pg/approvals.yml")
    with open(path) as fh:
        text = fh.read()
    # The demo's approvals are signed by make demo from the sealed journal's cards, never shipped pre-signed.
    assert _decisions.load_approvals(write(tmp_path, text)) == [] and yaml.safe_load(text) == {"approvals": []}
