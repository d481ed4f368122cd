"""One message catalog for the operator texts: both languages complete, every key a role uses is there, and no
role or playbook writes an operator text (failure, success, message, prompt) outside it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOG = {lang: yaml.safe_load((ROOT / "messages" / f"{lang}.yml").read_text(encoding="utf-8"))
           for lang in ("pt-BR", "en")}
TEXT_KEYS = ("fail_msg", "success_msg", "msg", "prompt")
YAML_FILES = sorted(list((ROOT / "roles").rglob("tasks/*.yml")) + list((ROOT / "playbooks").glob("*.yml")))
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
WORD = re.compile(r"[^\W\d_]{3,}")


def texts(node, where):
    """(where, key, value) of every operator-text argument of every task in a tasks or playbook file."""
    if isinstance(node, list):
        for item in node:
            yield from texts(item, where)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in TEXT_KEYS and isinstance(value, str):
                yield where, key, value
            elif isinstance(value, (list, dict)):
                yield from texts(value, where)


ALL_TEXTS = [t for path in YAML_FILES for t in texts(yaml.safe_load(path.read_text()), path.relative_to(ROOT))]


def test_there_are_texts_to_check():
    assert len(ALL_TEXTS) > 20


@pytest.mark.parametrize("where,key,value", ALL_TEXTS, ids=[f"{w}:{k}:{i}" for i, (w, k, dummy) in enumerate(ALL_TEXTS)])
def test_no_role_or_playbook_writes_an_operator_text_outside_the_catalog(where, key, value):
    outside = WORD.findall(JINJA.sub(" ", value))
    assert outside == [], f"{where} {key}: words outside the catalog {outside}; use " \
                          f"\"{{{{ '<key>' | ssot.governance.text(ssot_language, ...) }}}}\" and messages/*.yml"


def test_every_key_a_role_asks_for_is_in_both_languages():
    used = set()
    for path in YAML_FILES:
        used.update(re.findall(r"'([a-z_]+(?:\.[a-z_]+)+)'\s*(?:if|\)|\|)\s*", path.read_text()))
    used = {k for k in used if k.split(".")[0] in ("role",)}
    assert len(used) > 20
    for lang, catalog in CATALOG.items():
        assert sorted(used - set(catalog)) == [], lang


def test_both_languages_have_the_same_keys_and_placeholders():
    pt, en = CATALOG["pt-BR"], CATALOG["en"]
    assert sorted(set(pt) ^ set(en)) == []
    differ = [k for k in pt if set(re.findall(r"\{(\w+)\}", pt[k])) != set(re.findall(r"\{(\w+)\}", en[k]))]
    assert differ == []
    # Names and formats may read the same in both languages; prose may not.
    untranslated = [k for k in pt if pt[k] == en[k] and re.search(r"[^\W\d_]{4,}", re.sub(r"\{\w+\}", "", pt[k]))]
    assert sorted(untranslated) == ["approvals.launcher_invalid", "check.error.version_range", "checklist.major",
                                    "demo.summary.ssot", "hitl.card.rollback", "log.tags", "panel.decision.rollback",
                                    "panel.snapshots", "panel.ssot"]


MODULE_TEXT = re.compile(r"""(?:\bmsg=|\bwarn\(|\b_warn\(|\bwarning\(|\berror\(|(?<!Model)Error\(|warnings\.append\(|"""
                         r"""\bos\.write\(2,\s*\(?)\s*(["'])(.*?)\1""", re.S)
# Not operator texts of the collection: a key missing from the catalog is a bug in a role (for its developers);
# the writer process prefixes its warning as Ansible does.
DEVELOPER_TEXTS = {("text.py", "ssot.governance.text: no message %r in the catalog (messages/*.yml)"),
                   ("_recorder.py", "[WARNING]: %s\\n"), ("_writers.py", "[WARNING]: %s\\n"),
                   ("_writers.py", "[ERROR]: %s\\n"),
                   ("_recorder.py", "not a recorder event: %s")}


GENERATED = ("_messages.py", "_schemas.py")


def test_no_plugin_writes_an_operator_message_outside_the_catalog():
    """A module's failure or success message, and an error it raises to become one, comes from the catalog
    (module_utils._text.message / _decisions.text). Diagnostics of module_utils that wrap a tool's own output
    (docker, psql, pg_restore: English, like the tools) are not operator texts of the collection."""
    found = []
    paths = [p for d in ("modules", "module_utils", "action", "callback", "plugin_utils", "lookup", "filter") for p in
             sorted((ROOT / "plugins" / d).glob("*.py")) if p.name not in GENERATED]
    assert len(paths) > 20
    for path in paths:
        source = path.read_text()
        start = source.find("\nfrom ansible")                # past DOCUMENTATION/EXAMPLES/RETURN
        for m in MODULE_TEXT.finditer(source[start:]):
            # Format directives and dotted names (ssot.governance.runbook) are not words of a text.
            words = WORD.findall(re.sub(r"%[-\d.]*[sdr]|\w+(?:\.\w+)+", " ", m.group(2)))
            if re.fullmatch(r"[a-z0-9_.]+", m.group(2)):
                continue  # a code (a catalog key, an internal marker), not a text
            if words and (path.name, m.group(2)) not in DEVELOPER_TEXTS:
                found.append((path.name, m.group(2)[:70]))
    assert found == []


def test_the_operator_language_is_the_given_one_then_ssot_language_then_pt_br(monkeypatch):
    from ansible_collections.ssot.governance.plugins.filter.text import text
    from ansible_collections.ssot.governance.plugins.module_utils._text import operator_language
    monkeypatch.delenv("SSOT_LANGUAGE", raising=False)
    assert [operator_language(x) for x in ("en", "pt-BR", None, "", "fr")] == ["en", "pt-BR"] + ["pt-BR"] * 3
    monkeypatch.setenv("SSOT_LANGUAGE", "en")
    assert [operator_language(x) for x in ("pt-BR", None, "", "{{ x }}")] == ["pt-BR", "en", "en", "en"]
    assert text("role.ssot.no_workspace") == CATALOG["en"]["role.ssot.no_workspace"]
    assert text("role.ssot.no_workspace", "pt-BR") == CATALOG["pt-BR"]["role.ssot.no_workspace"]


# Where a text reaches a person: a result's or a record's field, an error that becomes a failure message.
OPERATOR_FIELDS = {"title", "description", "reason", "message", "note", "notes", "explanation", "context", "risk",
                   "rollback", "label", "msg", "compared", "detail", "summary", "next_steps", "expected", "actual",
                   "why", "error"}
# Programming errors (a developer reads them, in the code's language) and internal markers never shown.
NOT_OPERATOR_TEXT = {("_model.py", "ModelError"), ("_result.py", "ModelError"), ("_recorder.py", "TypeError"),
                     ("_sshsig.py", "ValueError"), ("text.py", "AnsibleFilterError"),
                     ("_model.py", "description")}  # the schema's own descriptions, for developers


def _literal(node):
    """The text a literal, a '...' % (...) or an f-string puts in a value (None for anything computed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return (_literal(node.left) or "") + (_literal(node.right) or "") or None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant)) or None
    if isinstance(node, (ast.List, ast.Tuple)):
        return " ".join(t for t in (_literal(e) for e in node.elts) if t) or None
    return None


def _words(value):
    """Words of a text, once format directives, placeholders, dotted names and bare codes are set aside."""
    if value is None or re.fullmatch(r"[a-z0-9_.]+", value):
        return []
    return WORD.findall(re.sub(r"%[-\d.]*[sdrf]|\{\w*\}|\w+(?:\.\w+)+", " ", value))


def operator_texts_in(path):
    """(line, where, text) of every literal with words that reaches a person from this file's code."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in OPERATOR_FIELDS and _words(_literal(value)) \
                        and (path.name, key.value) not in NOT_OPERATOR_TEXT:
                    found.append((node.lineno, key.value, _literal(value)))
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in OPERATOR_FIELDS and _words(_literal(kw.value)):
                    found.append((node.lineno, kw.arg, _literal(kw.value)))
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if (name.endswith("Error") or name == "Exception") and node.args and _words(_literal(node.args[0])) \
                    and (path.name, name) not in NOT_OPERATOR_TEXT:
                found.append((node.lineno, name, _literal(node.args[0])))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            key = node.targets[0].slice
            if isinstance(key, ast.Constant) and key.value in OPERATOR_FIELDS and _words(_literal(node.value)):
                found.append((node.lineno, key.value, _literal(node.value)))
    return found


PYTHON = sorted(p for p in (ROOT / "plugins").rglob("*.py") if p.name not in GENERATED and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: str(p.relative_to(ROOT / "plugins")))
def test_no_python_puts_its_own_words_where_a_person_reads_them(path):
    """module_utils included: a deviation's title, a source's reason, an error that becomes a failure message all
    come from the catalog (regression: 'setting %s' from _pg.py reached the PT-BR panel)."""
    assert operator_texts_in(path) == []


def test_the_scan_finds_what_it_must(tmp_path):
    """The scan above can fail: each way a text used to leak is caught."""
    sample = tmp_path / "_leaky.py"
    sample.write_text('''
check = {"id": "setting.x", "description": "setting %s" % name}
out = dict(src, status="missing", reason="container %r does not exist" % name)
item["note"] = "row counts only: source and target differ"
raise IngestError("creating roles in %s failed: %s" % (target, err))
ok = {"description": message(lang, "check.description.setting", name=name), "reason": text(lang, "x.y")}
''')
    assert sorted(f[1] for f in operator_texts_in(sample)) == ["IngestError", "description", "note", "reason"]
