"""Every play of the collection's playbooks governs the same hosts: the group ssot_targets (or -e ssot_hosts), or,
for a run naming one workspace with an inventory that has no such group, the controller (docs/fleet.md)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("{{ ssot_hosts | default('localhost' if ssot_workspace is defined and 'ssot_targets' not in groups "
         "else 'ssot_targets') }}")


def test_every_play_targets_the_governed_environments():
    plays = [(p.name, play) for p in sorted((ROOT / "playbooks").glob("*.yml"))
             for play in yaml.safe_load(p.read_text()) if "hosts" in play]
    assert len(plays) >= 15
    assert [(name, play["hosts"]) for name, play in plays if play["hosts"] != HOSTS] == []


def test_the_example_inventory_puts_the_controller_in_the_group():
    text = (ROOT / "examples" / "legacy-pg" / "inventory.ini").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "[ssot_targets]" and lines[1].startswith("localhost ansible_connection=local")
