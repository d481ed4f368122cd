"""Adding a signed approval to approvals.yml keeps the operators' file as it was; launcher approvals as text."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.plugins.plugin_utils import _approvals, _policy

SIG = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n"
ENTRY = {"decision": "validate.setting.work_mem.1a2b3c4d", "option": "fix", "approved_by": "ana@example.org",
         "approved_at": "2026-11-30T10:00:00Z", "expires_at": "2026-12-07T10:00:00Z",
         "reason": "SSOT pede 8MB: \"aspas\", #não é comentário", "ssot_digest": "sha256:" + "a" * 64,
         "signature": SIG}
EXISTING = """# Aprovações do ambiente legado (revisadas no merge request)
approvals:
    # a primeira, dada pela Ana
    - decision: ingest.legacy-shop.legacy_shop.load.86a61f7a
      option: ingest
      approved_by: Ana Souza
      approved_at: "2026-11-24T09:00:00Z"
      reason: carga inicial
      ssot_digest: "sha256:%s"
# fim
""" % ("b" * 64)


def read(path):
    return [dict((k, v) for k, v in e.items() if k != "source") for e in _decisions.load_approvals(str(path))]


def test_comments_order_and_other_entries_stay_byte_for_byte(tmp_path):
    path = tmp_path / "approvals.yml"
    path.write_text(EXISTING)
    os.chmod(path, 0o640)
    _approvals.append(str(path), ENTRY)
    text = path.read_text()
    assert text.startswith(EXISTING)
    assert read(path)[1] == ENTRY and len(read(path)) == 2
    assert text[len(EXISTING):].startswith("    - decision: ")  # the file's own indentation
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"


@pytest.mark.parametrize("before", ["", "# só um comentário\n", "approvals: []\n", "approvals:\n"])
def test_a_missing_empty_or_empty_list_file_gets_the_list(tmp_path, before):
    path = tmp_path / "approvals.yml"
    if before:
        path.write_text(before)
    _approvals.append(str(path), ENTRY)
    assert read(path) == [ENTRY]
    if before.startswith("#"):
        assert path.read_text().startswith(before)


def test_a_flow_style_list_is_not_rewritten(tmp_path):
    path = tmp_path / "approvals.yml"
    before = 'approvals: [{decision: x, option: fix, approved_by: a, approved_at: "2026-11-24T09:00:00Z", ' \
             'reason: r, ssot_digest: "sha256:%s"}]\n' % ("b" * 64)
    path.write_text(before)
    with pytest.raises(_approvals.ApproveError) as exc:
        _approvals.append(str(path), ENTRY)
    assert exc.value.code == "approve.cannot_append" and path.read_text() == before
    assert not [p for p in os.listdir(tmp_path) if p != "approvals.yml"]


def test_a_symbolic_link_is_refused(tmp_path):
    target = tmp_path / "elsewhere.yml"
    target.write_text("approvals: []\n")
    (tmp_path / "approvals.yml").symlink_to(target)
    with pytest.raises(_approvals.ApproveError) as exc:
        _approvals.append(str(tmp_path / "approvals.yml"), ENTRY)
    assert exc.value.code == "approve.unsafe_file" and target.read_text() == "approvals: []\n"


@pytest.mark.parametrize("given", [
    [dict(ENTRY)], dict(ENTRY), {"approvals": [dict(ENTRY)]}, _approvals.entry_text(ENTRY, ""),
    "approvals:\n" + _approvals.entry_text(ENTRY)])
def test_launcher_approvals_come_as_a_list_an_entry_or_text(given):
    got = _decisions.check_entries(_policy.launcher_approvals(given, "en"), "ssot_approvals", "en")
    assert [dict((k, v) for k, v in e.items() if k not in ("source", "channel")) for e in got] == [ENTRY]


def test_launcher_approvals_that_are_not_yaml_are_a_clear_error():
    with pytest.raises(_decisions.ApprovalError, match="ssot_approvals"):
        _policy.launcher_approvals("approvals: [unclosed", "en")
