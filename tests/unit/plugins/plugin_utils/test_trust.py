"""The trust root: found where the controller's administrator put it, refused when someone else could rewrite it or
when the launcher's environment points elsewhere."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ssot.governance.plugins.plugin_utils import _trust

SIGNER = "ana@corp.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA6wS4q8kEmvX3s1hdu5cWQ7pC6Yx6y2yHf4u7m0o1Fq\n"


def root_file(folder, **doc):
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(str(folder), 0o700)
    path = folder / "trust.yml"
    lines = ["require_signatures: true"] + ["%s: %s" % (k, v) for k, v in doc.items()]
    path.write_text("\n".join(lines) + "\n")
    os.chmod(str(path), 0o644)
    return path


def code_of(exc_info):
    return exc_info.value.code


def test_the_root_named_by_the_environment_loads(tmp_path):
    path = root_file(tmp_path / "etc")
    root = _trust.load(environ={_trust.ENV: str(path)})
    assert root.path == str(path) and root.require_signatures is True


def test_the_system_root_wins_over_a_launchers_environment(tmp_path, monkeypatch):
    system = root_file(tmp_path / "system")
    monkeypatch.setattr(_trust, "DEFAULT_PATH", str(system))
    mine = root_file(tmp_path / "mine")
    with pytest.raises(_trust.TrustError) as exc:
        _trust.load(environ={_trust.ENV: str(mine)})
    assert code_of(exc) == "trust.env_conflict" and str(system) in str(exc.value)
    # Naming the system file itself (or nothing) is fine.
    assert _trust.load(environ={_trust.ENV: str(system)}).path == str(system)
    assert _trust.load(environ={}).path == str(system)


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_a_root_others_can_rewrite_is_refused(tmp_path, mode):
    path = root_file(tmp_path / "etc")
    os.chmod(str(path), mode)
    with pytest.raises(_trust.TrustError) as exc:
        _trust.load(environ={_trust.ENV: str(path)})
    assert code_of(exc) == "trust.unguarded" and "%04o" % mode in str(exc.value)


def test_a_root_in_a_folder_others_can_write_is_refused_unless_sticky(tmp_path):
    path = root_file(tmp_path / "shared")
    os.chmod(str(tmp_path / "shared"), 0o777)
    with pytest.raises(_trust.TrustError) as exc:
        _trust.load(environ={_trust.ENV: str(path)})
    assert code_of(exc) == "trust.unguarded"
    os.chmod(str(tmp_path / "shared"), 0o1777)
    assert _trust.load(environ={_trust.ENV: str(path)}) is not None


def test_the_signers_file_is_guarded_too(tmp_path):
    folder = tmp_path / "etc"
    path = root_file(folder, allowed_signers_file="signers")
    (folder / "signers").write_text(SIGNER)
    os.chmod(str(folder / "signers"), 0o666)
    with pytest.raises(_trust.TrustError) as exc:
        _trust.load(environ={_trust.ENV: str(path)})
    assert code_of(exc) == "trust.unguarded" and "signers" in str(exc.value)


def test_a_root_inside_the_workspace_is_refused(tmp_path):
    path = root_file(tmp_path / "ws")
    with pytest.raises(_trust.TrustError) as exc:
        _trust.load(workspaces=[str(tmp_path / "ws")], environ={_trust.ENV: str(path)})
    assert code_of(exc) == "trust.inside_workspace"
