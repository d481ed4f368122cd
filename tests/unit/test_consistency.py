"""One place per fact: the copies that must agree, checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ssot.governance.plugins.doc_fragments import connection, decisions
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _pg

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("fragment, spec", [
    (connection.ModuleDocFragment, _pg.connection_argument_spec()),
    (decisions.ModuleDocFragment, _decisions.argument_spec()),
], ids=["connection", "decisions"])
def test_doc_fragment_matches_argument_spec(fragment, spec):
    documented = yaml.safe_load(fragment.DOCUMENTATION)["options"]
    assert set(documented) == set(spec)
    for name, opt in spec.items():
        assert documented[name]["type"] == opt["type"], name
        assert documented[name].get("default") == opt.get("default"), name
        assert bool(documented[name].get("required")) == bool(opt.get("required")), name
        assert documented[name].get("choices") == opt.get("choices"), name
        for sub, sub_opt in (opt.get("options") or {}).items():
            sub_doc = documented[name]["suboptions"][sub]
            assert (sub_doc["type"], sub_doc.get("default")) == (sub_opt["type"], sub_opt.get("default")), sub
        assert set(documented[name].get("suboptions") or {}) == set(opt.get("options") or {}), name


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_match_argument_specs(role):
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    # defaults/main.yml serves every entry point: its variables are the options of all of them together.
    options = {}
    for entry in specs["argument_specs"].values():
        for name, opt in (entry.get("options") or {}).items():
            seen = options.setdefault(name, opt)
            assert (seen.get("type"), seen.get("default")) == (opt.get("type"), opt.get("default")), \
                f"{role}: {name} has another type or default in another entry point"
    defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    optional = set(n for n, o in options.items() if not o.get("required"))
    assert set(defaults) == optional, f"{role}: defaults and argument_specs name different variables"
    for name, value in defaults.items():
        if isinstance(value, str) and "{{" in value:
            continue  # computed default, documented in words
        assert options[name].get("default") == value, f"{role}: {name} default differs"
    for name in options:
        assert name.startswith(role + "_"), f"{role}: public variable {name} lacks the role prefix"


def test_every_module_has_docs_examples_return():
    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        ns: dict = {}
        src = path.read_text()
        for name in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
            assert f"\n{name} = r'''" in src, f"{path.name} lacks {name}"
        exec(compile(src.split("\nfrom ansible")[0].split("\nimport ")[0], str(path), "exec"), ns)  # docs only
        doc = yaml.safe_load(ns["DOCUMENTATION"])
        assert doc["module"] == path.stem
        assert yaml.safe_load(ns["EXAMPLES"])
        assert yaml.safe_load(ns["RETURN"])


def test_test_file_basenames_are_unique():
    # pytest imports test files by basename (rootdir-relative packages are not used here).
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py") if "output" not in p.relative_to(ROOT / "tests").parts]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
