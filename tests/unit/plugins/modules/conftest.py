"""Fixtures of the module unit tests: the fake engine (fake_engine.py) in place of the real one, and a harness that
runs a module's main() as Ansible would. Imports of the collection happen inside the fixtures: a conftest is loaded
before pytest-ansible puts the collection loader in place."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def engine(monkeypatch):
    """A fake engine every module built in the test talks to."""
    from ansible_collections.ssot.governance.tests.unit.plugins.modules.fake_engine import FakeEngine

    from ansible_collections.ssot.governance.plugins.module_utils import _engine
    fake = FakeEngine()
    monkeypatch.setattr(_engine, "Engine", lambda module=None, binary="docker": fake)
    monkeypatch.setattr("ansible_collections.ssot.governance.plugins.module_utils._lifeline.start",
                        lambda on_death=None: False)
    return fake


@pytest.fixture
def run_module(capsys):
    """run_module(module, args) -> (failed, result): main() run as Ansible would, its printed JSON read back, and
    its records checked against the contract the recorder enforces (schemas/result.schema.json)."""
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.ssot.governance.plugins.plugin_utils import _contract

    def run(module, args):
        with patch_module_args(args):
            with pytest.raises(SystemExit) as ended:
                module.main()
        out = json.loads(capsys.readouterr().out)
        assert bool(out.get("failed")) == (ended.value.code != 0), out
        assert _contract.problems(_contract.split(dict(out))) == [], out
        return bool(out.get("failed")), out
    return run
