"""The Agent Skill shipped with the collection (skills/ssot-governance/SKILL.md): the open format's front matter, in
PT-BR like the reference skill, naming every tool the MCP server has and the rules it must keep."""

from __future__ import annotations

import re

import yaml

from ansible_collections.ssot.governance.plugins.plugin_utils import _agent
from ansible_collections.ssot.governance.tests.unit._tools import ROOT

SKILL = ROOT / "skills" / "ssot-governance" / "SKILL.md"


def test_front_matter_follows_the_agent_skills_format():
    text = SKILL.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "SKILL.md starts with a YAML front matter between --- lines"
    meta = yaml.safe_load(match.group(1))
    assert set(meta) == {"name", "description"}
    # name: lowercase letters, digits and hyphens, at most 64, the folder's name; description: at most 1024.
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta["name"]) and len(meta["name"]) <= 64
    assert meta["name"] == SKILL.parent.name
    assert 0 < len(meta["description"]) <= 1024


def test_body_names_every_tool_and_the_rules_in_pt_br():
    body = SKILL.read_text(encoding="utf-8")
    for tool in _agent.TOOL_ARGUMENTS:
        assert f"`{tool}" in body, tool
    for rule in ("SSOT primeiro", "Validar antes de modificar", "Parar em cada decisão pendente",
                 "nunca aprova", "Citar evidências"):
        assert rule in body, rule
    # Every tool the docs show is the server's, and the docs show them all.
    docs = (ROOT / "docs" / "agent.md").read_text(encoding="utf-8")
    for tool in _agent.TOOL_ARGUMENTS:
        assert tool in docs, tool
