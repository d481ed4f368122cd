from __future__ import annotations

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _prose, _versions


@pytest.mark.parametrize("major, constraint, ok", [
    ("10", "10", True), ("10", 10, True), ("9.4", "9.4", True), ("9.4", 9.4, True), ("9.6", "9.4", False),
    ("10", ">=9.4,<11", True), ("11", ">=9.4,<11", False), ("9.3", ">=9.4", False), ("15", ">10", True),
    ("10", "!=10", False), ("10.23", ">=10.20", True), ("10.19", ">=10.20", False),
])
def test_satisfies(major, constraint, ok):
    assert _versions.satisfies(major, constraint) is ok


@pytest.mark.parametrize("bad", ["", "ten", ">=9.4,<<11", "9.4.x,", True])
def test_bad_constraints(bad):
    with pytest.raises(_versions.VersionError):
        _versions.parse_constraint(bad)


BOOK = """\
BOOK-RUN — demo

1. Artefato entregue
   - tar docker-archive

2. Ambiente alvo
   - Porta 5432 em 127.0.0.1


3. Validação
   psql -c "SELECT version();"
"""


def test_numbered_prose_sections():
    sections = _prose.section_map(BOOK)
    assert [s["id"] for s in sections] == ["preamble", "1-artefato-entregue", "2-ambiente-alvo", "3-validacao"]
    assert [s["lines"] for s in sections] == [[1, 1], [3, 4], [6, 7], [10, 11]]
    assert all(s["digest"].startswith("sha256:") for s in sections)
    changed = _prose.section_map(BOOK.replace("5432", "5433"))
    assert [a["digest"] == b["digest"] for a, b in zip(sections, changed)] == [True, True, False, True]


def test_markdown_sections_and_fences():
    md = "# Title\nintro\n\n## Setup\n```\n# not a heading\n```\nSetup\n-----\ntext\n## Setup\nagain\n"
    sections = _prose.section_map(md, markdown=True)
    assert [(s["id"], s["level"]) for s in sections] == [("title", 1), ("setup", 2), ("setup-2", 2), ("setup-3", 2)]


def test_empty_prose_has_no_sections():
    assert _prose.section_map("") == []
