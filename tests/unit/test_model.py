"""The domain model (plugins/module_utils/_model.py) is the one place of phases, severities and statuses: every
phase has its labels, a playbook that runs its role and a manual command that exists; every severity a label, an
order and a badge; every role of the collection a phase or an explicit 'shared'; and adding a phase or a severity
is an edit of the model and the catalogs only (proven on a temporary copy)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ansible_collections.ssot.governance.plugins.module_utils import _messages, _model, _schemas
from ansible_collections.ssot.governance.plugins.plugin_utils import _human

ROOT = Path(__file__).resolve().parents[2]
LANGS = ("pt-BR", "en")


def playbook_tags(name):
    """Every tag a playbook names, with those of the tasks of the roles it runs."""
    text = (ROOT / "playbooks" / f"{name}.yml").read_text()
    roles = set(re.findall(r"ssot\.governance\.(\w+)", text))
    for role in roles:
        for task_file in (ROOT / "roles" / role / "tasks").glob("*.yml"):
            text += task_file.read_text()
    return set(re.findall(r"[\w-]+", " ".join(re.findall(r"tags:\s*(\[[^\]]*\]|[\w-]+)", text))))


@pytest.mark.parametrize("key", _model.catalog_keys())
def test_every_label_the_model_needs_is_in_both_catalogs(key):
    for lang in LANGS:
        assert key in _messages.MESSAGES[lang], (lang, key)
        assert _messages.MESSAGES[lang][key].strip() and _messages.MESSAGES[lang][key] != key


@pytest.mark.parametrize("phase", _model.PHASES, ids=lambda p: "phase-%d" % p.number)
def test_every_phase_runs_in_a_playbook_and_its_manual_command_exists(phase):
    book = ROOT / "playbooks" / f"{phase.playbook}.yml"
    assert book.is_file(), book
    assert f"ssot.governance.{phase.role}" in book.read_text(), (book, phase.role)
    assert (ROOT / "roles" / phase.role / "tasks" / "main.yml").is_file()
    words = _model.manual_command(phase.number, workspace="/ws", container="pg-old")
    assert not any("@" in w and w.count("@") >= 2 for w in words), words      # every placeholder filled
    if words[0] == "ansible-playbook":
        name = words[1].split(".")[-1]
        assert words[1] == "ssot.governance." + name and (ROOT / "playbooks" / f"{name}.yml").is_file(), words
        if "--tags" in words:
            wanted = words[words.index("--tags") + 1].split(",")
            assert set(wanted) <= playbook_tags(name), (words, playbook_tags(name))
    else:
        assert words[0] == "docker" and "pg-old" in words


def test_phase_numbers_are_the_positions_and_the_schemas_take_them_from_the_model():
    assert list(_model.PHASE_NUMBERS) == list(range(len(_model.PHASES)))
    # runbook.schema.json holds every definition of the model; the others refer to it; the SSOT's schema, used on
    # its own, has a copy of the one it needs.
    assert {d: _schemas.SCHEMAS["runbook"]["$defs"][d] for d in _model.schema_defs()} == _model.schema_defs()
    assert _schemas.SCHEMAS["ssot"]["$defs"]["severity"] == _model.schema_defs()["severity"]
    for name in ("project-panel", "result"):
        text = json.dumps(_schemas.SCHEMAS[name])
        assert '"runbook.schema.json#/$defs/phase"' in text and '"maximum": 6' not in text
        assert not set(_schemas.SCHEMAS[name].get("$defs", {})) & set(_model.schema_defs())


def test_every_role_of_the_collection_has_a_phase_or_is_shared_and_an_unknown_one_is_an_error():
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    assert set(roles) == {p.role for p in _model.PHASES} | set(_model.SHARED_ROLES)
    assert _model.role_phase("ssot.governance.validate") == _model.role_phase("validate") == 3
    assert _model.role_phase("ssot.governance.hitl_gate") is None
    assert _model.role_phase("acme.dba.tuning") is None and _model.role_phase("my_own_role") is None
    with pytest.raises(_model.ModelError, match="ssot.governance.archive"):
        _model.role_phase("ssot.governance.archive")
    with pytest.raises(_model.ModelError):
        _model.phase(99)


def test_every_severity_has_a_label_an_order_and_a_badge():
    assert _model.SEVERITY_NAMES[0] == "critical" and _model.SEVERITY_NAMES[-1] == "info"
    ranks = [_model.severity_rank(s) for s in _model.SEVERITY_NAMES]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert _model.severity_rank("made-up") > max(ranks)
    for sev in _model.SEVERITIES:
        assert re.search(r"\.b-%s\{background:#[0-9a-f]{6}\}" % sev.name, _human.STYLE), sev
        for lang in LANGS:
            assert _messages.MESSAGES[lang]["severity." + sev.name] != sev.name or lang == "en"
    assert [s for s in _model.SEVERITY_NAMES if _model.decides(s)] == ["critical", "high"]


def test_checklist_commands_name_only_playbooks_that_exist(tmp_path):
    """Regression: phase 1's command was `ansible-playbook ssot.governance.inventory` (no such playbook)."""
    spec = importlib.util.spec_from_file_location("test_human", ROOT / "tests/unit/plugins/plugin_utils/test_human.py")
    test_human = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_human)
    test_human.a_run(tmp_path, "pt-BR")
    text = (tmp_path / _human.CHECKLIST).read_text()
    named = set(re.findall(r"ansible-playbook ssot\.governance\.(\w+)", text))
    assert named and "inventory" not in named
    assert all((ROOT / "playbooks" / f"{n}.yml").is_file() for n in named), named
    assert f"ansible-playbook ssot.governance.validate -e ssot_workspace={tmp_path} --tags inventory" in text


def test_a_critical_finding_comes_first_translated_and_styled(tmp_path):
    """Regression: critical was sorted after info, shown as the raw word in PT-BR, and had no badge style."""
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder
    rec = Recorder(str(tmp_path))
    rec.open("site.yml", "tester")
    rec.start_play("p", [])
    rec.findings([{"id": "finding.%s" % s, "code": s, "severity": s, "title": "t-" + s, "explanation": "e"}
                  for s in ("info", "low", "critical", "medium", "high")])
    rec.close("ok")
    page = (tmp_path / _human.PANEL_HTML).read_text()
    order = re.findall(r'data-finding="finding\.(\w+)"', page)
    assert order == ["critical", "high", "medium", "low", "info"]
    assert '<span class="badge b-critical">%s</span>' % _messages.MESSAGES["pt-BR"]["severity.critical"] in page
    assert _messages.MESSAGES["pt-BR"]["severity.critical"] == "crítica"


NEW_PHASE_PROBE = textwrap.dedent('''
    import json, sys
    import jsonschema
    from referencing import Registry, Resource
    from ansible_collections.ssot.governance.plugins.module_utils import _model, _schemas
    from ansible_collections.ssot.governance.plugins.plugin_utils import _human
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder
    ws = sys.argv[1]
    rec = Recorder(ws)
    rec.open("site.yml", "tester")
    rec.start_play("p", [{"id": "s", "name": "Change", "role": "ssot.governance.modify",
                          "phase": _model.role_phase("ssot.governance.modify")}])
    rec.start_task({"id": "s", "name": "Change", "role": "ssot.governance.modify", "phase": 7})
    rec.result({"step": "s", "host": "h", "status": "ok", "result": {}})
    rec.findings([{"id": "finding.x", "code": "x", "severity": "blocker", "title": "x", "explanation": "e"},
                  {"id": "finding.y", "code": "y", "severity": "critical", "title": "y", "explanation": "e"}])
    rec.milestone({"phase": 7, "status": "blocked", "next_steps": ["wait"]})
    rec.close("ok")
    panel = json.load(open(ws + "/project-panel.json"))
    runbook = json.load(open(ws + "/runbook.json"))
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in _schemas.SCHEMAS.values()])
    for doc, name in ((panel, "project-panel"), (runbook, "runbook")):
        jsonschema.Draft202012Validator(_schemas.SCHEMAS[name], registry=registry).validate(doc)
    page = open(ws + "/" + _human.PANEL_HTML).read()
    checklist = open(ws + "/" + _human.CHECKLIST).read()
    print(json.dumps({"milestones": [m["phase"] for m in panel["milestones"]],
                      "phase7": [m for m in panel["milestones"] if m["phase"] == 7][0],
                      "findings": [f["id"] for f in panel.get("findings", [])],
                      "badge": ".b-blocker{" in page, "label": "bloqueante" in page,
                      "checklist": "ssot.governance.modify" in checklist}))
''')


def test_adding_a_phase_and_a_severity_touches_only_the_model_and_the_catalogs(tmp_path):
    copy = tmp_path / "ansible_collections" / "ssot" / "governance"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".venv", ".cache", ".collections", ".git", "tests", "demo-workspace", "bench", "*.tar", ".ansible", "__pycache__"))
    model = copy / "plugins" / "module_utils" / "_model.py"
    source = model.read_text()
    source = source.replace('    Phase(6, "snapshot", "snapshot", _PLAY + ("--tags", "restore_test")),\n',
                            '    Phase(6, "snapshot", "snapshot", _PLAY + ("--tags", "restore_test")),\n'
                            '    Phase(7, "modify", "modify", _PLAY + ("--tags", "modify", "--check")),\n')
    source = source.replace('SHARED_ROLES = ("hitl_gate", "modify")', 'SHARED_ROLES = ("hitl_gate",)')
    source = source.replace('SEVERITIES = (\n', 'SEVERITIES = (\n    Severity("blocker", "#e08080"),\n')
    assert source != model.read_text() and "Phase(7" in source and "blocker" in source
    model.write_text(source)
    for lang, phase, sev in (("pt-BR", "Mudanças aprovadas", "bloqueante"), ("en", "Approved changes", "blocker")):
        cat = copy / "messages" / f"{lang}.yml"
        cat.write_text(cat.read_text() + f'milestone.7: "{phase}"\nseverity.blocker: "{sev}"\n')
    gen = subprocess.run([sys.executable, str(copy / "scripts" / "generate.py")], capture_output=True, text=True, check=False)
    assert gen.returncode == 0, gen.stderr
    probe = subprocess.run([sys.executable, "-c", NEW_PHASE_PROBE, str(tmp_path / "ws")], capture_output=True,
                           text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, cwd=tmp_path, check=False)
    assert probe.returncode == 0, probe.stderr[-3000:]
    out = json.loads(probe.stdout)
    assert out["milestones"] == list(range(8))
    assert out["phase7"]["status"] == "blocked" and out["phase7"]["title"] == "Mudanças aprovadas"
    assert out["findings"][:2] == ["finding.x", "finding.y"]         # blocker sorts before critical
    assert out["badge"] and out["label"] and out["checklist"]
    schema = json.loads((copy / "schemas" / "runbook.schema.json").read_text())
    assert schema["$defs"]["phase"]["enum"][-1] == 7 and schema["$defs"]["severity"]["enum"][0] == "blocker"
    changed = subprocess.run(["diff", "-rq", "-x", "__pycache__", str(ROOT / "plugins"), str(copy / "plugins")], capture_output=True,
                             text=True, check=False).stdout
    edited = sorted(re.findall(r"and \S+/plugins/(\S+) differ", changed))
    assert edited == ["module_utils/_messages.py", "module_utils/_model.py", "module_utils/_schemas.py"], changed
    assert yaml.safe_load((copy / "messages" / "en.yml").read_text())["milestone.7"] == "Approved changes"
