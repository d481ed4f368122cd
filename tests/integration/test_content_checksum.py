"""The content checksum on a real server: equal content gives equal checksums whatever the physical order, the
time zone or a dump and restore; a change anywhere in a row (a value, a NULL, two values swapped between rows or
between columns of the same type) changes it. Covers the typed hashes and the text fallback."""

from __future__ import annotations

import subprocess
import uuid

import pytest
from _support import docker, psql, start_server

from ansible_collections.ssot.governance.plugins.module_utils import _engine, _pgdata

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE DOMAIN cents AS bigint;
CREATE TABLE t (
  dropped int, i2 smallint, i4 int, i8 cents, b bool, tx text, vc varchar(20), ch char(4), ts timestamp,
  tz timestamptz, n numeric(12, 3), f4 real, f8 double precision, u uuid, by bytea, js jsonb, arr int[],
  m mood, d date, iv interval, pt point);
ALTER TABLE t DROP COLUMN dropped;
INSERT INTO t SELECT g::smallint, g, g * 1000, g % 2 = 0, 'text ' || g, 'vc' || g, 'c' || (g % 10),
  timestamp '2020-01-01' + g * interval '1 minute', timestamptz '2020-01-01 00:00+00' + g * interval '1 second',
  g / 7.0, g / 3.0, g / 9.0, md5(g::text)::uuid, decode(md5(g::text), 'hex'), ('{"k": ' || g || '}')::jsonb,
  ARRAY[g, g + 1], CASE WHEN g % 3 = 0 THEN 'sad'::mood ELSE 'ok' END, date '2020-01-01' + g,
  g * interval '1 hour', point(g, -g)
FROM generate_series(1, 2000) AS g;
INSERT INTO t (i4) VALUES (NULL);
CREATE TABLE empty_one (a int);
"""


def checksum(container: str, db: str = "cks") -> dict:
    stats = _pgdata.table_stats(_engine.Engine(), container, checksums=True, databases=[db])[db]
    return {name: (s["rows"], s["checksum"]) for name, s in stats.items()}


@pytest.fixture(scope="module")
def server(legacy_image, container_names):
    name = f"ssot-it-cks-{uuid.uuid4().hex[:8]}"
    container_names.append(name)
    start_server(legacy_image["image"], name)
    psql(name, "CREATE DATABASE cks")
    docker("exec", name, "psql", "-U", "postgres", "-d", "cks", "-v", "ON_ERROR_STOP=1", "-qc", SCHEMA)
    return name


def test_equal_content_gives_equal_checksums_across_order_time_zone_and_restore(server):
    before = checksum(server)
    assert before["public.t"][0] == 2001 and before["public.empty_one"] == (0, "0")
    # Another physical order (CLUSTER rewrites the table sorted by an index), another session time zone.
    psql(server, "CREATE INDEX t_by_text ON t (tx); CLUSTER t USING t_by_text; ALTER DATABASE cks SET timezone "
                 "TO 'America/Sao_Paulo'", db="cks")
    assert checksum(server) == before
    # Dumped and restored into another database of the same server: the dropped column is gone there.
    psql(server, "CREATE DATABASE cks_copy")
    subprocess.run(f"docker exec {server} pg_dump -U postgres -Fc cks | docker exec -i {server} pg_restore -U postgres "
                   "-d cks_copy", shell=True, check=True, capture_output=True)
    assert checksum(server, "cks_copy") == before


@pytest.mark.parametrize("change", [
    "UPDATE t SET tx = 'text 6' WHERE i4 = 5",                                  # one value
    "UPDATE t SET tz = tz + interval '1 microsecond' WHERE i4 = 5",             # a timestamptz by 1 µs
    "UPDATE t SET n = NULL WHERE i4 = 5",                                       # a value becomes NULL
    "UPDATE t SET i4 = 0 WHERE i4 IS NULL",                                     # a NULL becomes a value
    "UPDATE t SET tx = CASE i4 WHEN 5 THEN 'text 6' ELSE 'text 5' END WHERE i4 IN (5, 6)",   # swapped between rows
    "UPDATE t SET tx = vc, vc = tx WHERE i4 = 5",                               # swapped between columns
    "UPDATE t SET m = 'sad' WHERE i4 = 5",                                      # enum (text fallback)
    "UPDATE t SET pt = point(0, 0) WHERE i4 = 5",                               # a type with no hash: text
    "UPDATE t SET arr = ARRAY[5, 7] WHERE i4 = 5",                              # arrays: text
], ids=["value", "microsecond", "to-null", "from-null", "rows-swapped", "columns-swapped", "enum", "point",
        "array"])
def test_any_change_in_a_row_changes_the_checksum_and_not_the_count(server, change):
    before = checksum(server)["public.t"]
    psql(server, "DROP DATABASE IF EXISTS cks_case")
    psql(server, "CREATE DATABASE cks_case TEMPLATE cks")
    psql(server, change, db="cks_case")
    after = checksum(server, "cks_case")["public.t"]
    assert after[0] == before[0], change
    assert after[1] != before[1], f"the checksum did not see: {change}"
