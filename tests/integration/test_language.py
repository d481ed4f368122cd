"""Switching the SSOT's language to English switches the operator texts: a role's failure message, and the panel
page, the checklist and the run's log - with no PT-BR text of the catalog left in them."""

from __future__ import annotations

import re

import pytest
import yaml
from _support import ROOT, free_port, run_playbook, write_workspace

pytestmark = pytest.mark.integration

CATALOG = {lang: yaml.safe_load((ROOT / "messages" / f"{lang}.yml").read_text(encoding="utf-8"))
           for lang in ("pt-BR", "en")}


def fixed_parts(value: str) -> list[str]:
    """The text between placeholders, long enough to be recognised."""
    return [p.strip() for p in re.split(r"\{\w+\}", value) if len(p.strip()) >= 12]


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_the_ssot_language_chooses_every_operator_text(legacy_image, tmp_path, language):
    def edit(doc):
        doc["metadata"]["language"] = language
    ws = write_workspace(tmp_path / "ws", legacy_image, "ssot-it-lang-unused", free_port(), edit)
    # Nothing to prove yet: the restore test fails with the role's message from the catalog.
    proc = run_playbook("ssot.governance.snapshot", ws, extra_args=["--tags", "restore_test"])
    assert proc.returncode != 0
    expected = CATALOG[language]["role.snapshot.none"].replace("{folder}", str(ws.path / "snapshots"))
    assert expected in proc.stdout, proc.stdout[-3000:]
    files = {name: (ws.path / name).read_text() for name in ("project-panel.html", "homologacao-conectividade-ssot.md")}
    logs = sorted((ws.path / "logs").glob("*.log"))
    assert len(logs) == 1
    files["log"] = logs[0].read_text()
    assert f'<html lang="{language}">' in files["project-panel.html"]
    other = "pt-BR" if language == "en" else "en"
    leftovers = []
    for key, value in CATALOG[other].items():
        if value == CATALOG[language][key]:
            continue
        for part in fixed_parts(value):
            leftovers += [(name, key, part) for name, text in files.items() if part in text]
    assert leftovers == []
    mine = [part for key in ("checklist.phases", "log.evidence", "panel.milestones") for part in
            fixed_parts(CATALOG[language][key]) or [CATALOG[language][key]]]
    assert all(any(part in text for text in files.values()) for part in mine), mine
