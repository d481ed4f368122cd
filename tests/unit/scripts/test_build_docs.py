"""The docs site check (scripts/build_docs.py, make docs) names a plugin or role without its page and an error page."""

from __future__ import annotations

from ansible_collections.ssot.governance.scripts import build_docs


def site(tmp_path, broken=None, missing=None):
    rst, html = tmp_path / "rst", tmp_path / "build" / "html"
    for stem in build_docs.expected_pages():
        if stem == missing:
            continue
        for folder, suffix in ((rst, ".rst"), (html, ".html")):
            page = folder / "collections" / "ssot" / "governance" / (stem + suffix)
            page.parent.mkdir(parents=True, exist_ok=True)
            text = "The documentation for the module plugin, x,  was malformed." if stem == broken else "Synopsis"
            page.write_text(text)
    return html, rst


def test_every_plugin_and_role_is_expected():
    pages = build_docs.expected_pages()
    assert {"pg_check_module", "secret_lookup", "text_filter", "runbook_callback", "ssot_role", "validate_role"} <= set(pages)


def test_a_whole_site_has_no_problem(tmp_path):
    assert build_docs.problems(*site(tmp_path)) == []


def test_an_error_page_and_a_missing_page_are_named(tmp_path):
    found = build_docs.problems(*site(tmp_path, broken="pg_check_module", missing="validate_role"))
    assert len(found) == 2
    assert any("module ssot.governance.pg_check" in p and "error page" in p for p in found)
    assert any("role ssot.governance.validate" in p and "no page" in p for p in found)
