"""Hostile SSOT text in the views for people: pasted commands run nothing else, Markdown gets no structure from
it, terminal control sequences never reach a file raw."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ssot.governance.plugins.plugin_utils import _human
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor

PWNED = "PWNED_MARKER"
HOSTILE = [
    "$(touch %s)" % PWNED, "`touch %s`" % PWNED, "'; touch %s; '" % PWNED, '"; touch %s; "' % PWNED,
    "x\ntouch %s" % PWNED, "a;touch %s" % PWNED, "$((1+1))${IFS}", "\\'$(touch %s)" % PWNED,
    "```\n# Fake heading\n- [x] fake tick", "\x1b]0;owned\x07\x1b[2J", "x | touch %s" % PWNED, "*", "~root",
]
TOOLS = ("psql", "docker", "ansible-playbook", "sha256sum")


def hostile_ssot(value):
    return {"metadata": {"name": value, "language": "pt-BR"},
            "artifacts": [{"id": value, "path": "delivered/" + value, "image": value}],
            "target": {"container": value, "image": value,
                       "ports": [{"bind": "127.0.0.1", "host": 55432, "container": 5432}],
                       "connection": {"user": value, "database": value, "password": {"env": value}}},
            "postgres": {"major": "10", "settings": {value: value}},
            "checks": [{"id": value, "description": value, "sql": "SELECT '%s'" % value, "expect": value}]}


def render(ws: Path, value: str) -> Recorder:
    rec = Recorder(str(ws), redactor=Redactor(environ={}))
    rec.open("site.yml", "tester")
    plan = [{"id": "s0", "name": value, "role": "ssot.governance.ssot", "phase": 0}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "s0", "host": "h", "status": "failed", "msg": value, "result": {}})
    rec.ssot_loaded({"path": str(ws / "ssot.yml"), "digest": "sha256:" + "b" * 64, "language": "pt-BR",
                     "ssot": hostile_ssot(value), "ssot_full_map": []})
    rec.decision({"id": "x.y.1", "title": value, "status": "pending", "phase": 3, "ssot_digest": "sha256:" + "b" * 64,
                  "context": value, "options": [{"id": "fix", "label": value}]})
    rec.close("failed")
    return rec


def code_blocks(markdown):
    """The commands of every fenced block, as the operator would copy them."""
    out = []
    for fence, body in re.findall(r"^ *(`{3,})sh\n(.*?)^ *\1\s*$", markdown, flags=re.S | re.M):
        out.append("\n".join(line[2:] if line.startswith("  ") else line for line in body.splitlines()))
    return out


@pytest.fixture
def stubs(tmp_path):
    folder = tmp_path / "stubs"
    folder.mkdir()
    for tool in TOOLS:
        path = folder / tool
        path.write_text('#!/bin/sh\nprintf "%%s\\n" "%s" >> "$STUB_LOG"\nfor a in "$@"; do printf "%%s\\0" "$a" '
                        '>> "$STUB_LOG.args"; done\n' % tool)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.parametrize("value", HOSTILE)
def test_pasting_every_command_runs_only_the_tools_it_names(tmp_path, stubs, value):
    ws = tmp_path / "ws"
    render(ws, value)
    checklist = (ws / _human.CHECKLIST).read_text()
    blocks = code_blocks(checklist)
    assert len(blocks) >= 8, checklist[:2000]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = tmp_path / "stub.log"
    env = {"PATH": str(stubs), "STUB_LOG": str(log), "HOME": str(tmp_path), "PG_PW": "x"}
    for block in blocks:
        proc = subprocess.run(["/bin/bash", "-c", block], cwd=run_dir, env=env, capture_output=True, text=True,
                              timeout=20, check=False)
        assert "command not found" not in proc.stderr, (block, proc.stderr)
    assert not list(run_dir.iterdir()), "a pasted command created files: %s" % list(run_dir.iterdir())
    assert not (tmp_path / PWNED).exists() and not list(tmp_path.rglob(PWNED))
    ran = log.read_text().split()
    assert set(ran) <= set(TOOLS) and len(ran) >= len(blocks)


@pytest.mark.parametrize("value", HOSTILE)
def test_ssot_text_creates_no_markdown_structure_and_no_raw_control(tmp_path, value):
    ws = tmp_path / "ws"
    rec = render(ws, value)
    checklist = (ws / _human.CHECKLIST).read_text()
    outside = re.sub(r"^ *(`{3,})sh\n.*?^ *\1\s*$", "", checklist, flags=re.S | re.M)
    headings = [line for line in outside.splitlines() if line.lstrip().startswith("#")]
    assert not any(re.match(r"^\s*#+\s*Fake heading", h) for h in headings), headings
    items = [line for line in outside.splitlines() if re.match(r"^\s*- \[[ x]\]", line)]
    assert not any("fake tick" in i and not i.startswith("- [") for i in items)
    assert not re.search(r"^\s*- \[x\] fake tick", outside, flags=re.M)
    for name in (_human.CHECKLIST, _human.PANEL_HTML, "logs/%s.log" % rec.run_id):
        content = (ws / name).read_text()
        assert "\x1b" not in content and "\x07" not in content, name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30))
def test_any_value_is_one_shell_word_and_one_markdown_line(value):
    words = subprocess.run(["/bin/bash", "-c", 'for a in %s; do printf "%%s\\0" "$a"; done' % _human.q(value)],
                           capture_output=True, timeout=10, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}, check=False).stdout
    assert words == value.encode("utf-8") + b"\0"
    assert "\x1b" not in _human.q(value) and "\n" not in _human.q(value)
    line = _human.md(value)
    assert "\n" not in line and "\x1b" not in line
    # Inside a line (values never start one): every inline Markdown character is escaped.
    assert not re.search(r"[`*_\[\]<>|~\\]", re.sub(r"\\.", "", line)), line
