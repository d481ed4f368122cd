"""Table-by-table comparison shared by the restore test and the ingest verification."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _pgdata


def stats(**tables):
    return {"shop": {name: dict(rows=rows, **({"checksum": c} if c is not None else {}))
                     for name, (rows, c) in tables.items()}}


def test_equal_tables_match_and_a_changed_checksum_is_named_with_equal_counts():
    src = stats(**{"public.a": (3, "10"), "public.b": (2, "20")})
    same, mismatches = _pgdata.compare(src, stats(**{"public.a": (3, "10"), "public.b": (2, "20")}))
    assert mismatches == [] and [r["status"] for r in same] == ["match", "match"]
    dummy, mismatches = _pgdata.compare(src, stats(**{"public.a": (3, "10"), "public.b": (2, "21")}))
    assert [m["table"] for m in mismatches] == ["public.b"]
    assert _pgdata.describe(mismatches[0], lang="en") == "shop public.b (content checksum differs, 2 rows each)"
    assert _pgdata.describe(mismatches[0]) == "shop public.b (checksum do conteúdo difere, 2 linhas em cada)"


def test_counts_only_missing_tables_and_databases_are_named():
    src = stats(**{"public.a": (3, None), "public.b": (2, None)})
    rows, mismatches = _pgdata.compare(src, stats(**{"public.a": (1, None)}), other_label="target")
    assert "source_checksum" not in rows[0]
    assert [_pgdata.describe(m, "target", "en") for m in mismatches] == [
        "shop public.a (rows: source 3, target 1)", "shop public.b (rows: source 2, target missing)"]
    dummy, mismatches = _pgdata.compare(src, {})
    assert _pgdata.describe(mismatches[-1], lang="en") == "shop (database missing)"
    assert _pgdata.describe(mismatches[-1]) == "shop (banco ausente)"
