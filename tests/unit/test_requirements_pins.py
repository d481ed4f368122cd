"""The unit suite's requirements (tests/unit/requirements.txt, for ansible-test units) pin what the project's
virtualenv pins (requirements-dev.txt): both runs of the suite see the same libraries."""

from __future__ import annotations

from ansible_collections.ssot.governance.tests.unit._tools import ROOT


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            package, dummy, version = line.partition("==")
            assert version, f"{name}: {line!r} is not pinned with =="
            found[package.lower()] = version
    return found


def test_unit_requirements_pin_what_the_virtualenv_pins():
    unit, dev = pins("tests/unit/requirements.txt"), pins("requirements-dev.txt")
    assert unit and {p: v for p, v in unit.items() if dev.get(p) != v} == {}
