#!/usr/bin/env bash
# Create (or re-create) the seeded demo database inside a running legacy-pg
# container. Later phases (ingest, snapshot) reuse it as their data source.
# Usage: seed_demo.sh CONTAINER [DATABASE]   (default database: legacy_shop)
set -euo pipefail
container="${1:?usage: seed_demo.sh CONTAINER [DATABASE]}"
db="${2:-legacy_shop}"
case "$db" in (*[!a-z0-9_]*|"") echo "seed_demo: database name must match [a-z0-9_]+" >&2; exit 2;; esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Local socket, peer auth as the image user: no password involved.
if [ -z "$(docker exec "$container" psql -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    docker exec "$container" psql -U postgres -d postgres -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db"
fi
docker exec -i "$container" psql -U postgres -d "$db" -v ON_ERROR_STOP=1 -q <"$here/seed_demo.sql"
docker exec "$container" psql -U postgres -d "$db" -Atc \
    "SELECT 'customers=' || (SELECT count(*) FROM customers) || ' products=' || (SELECT count(*) FROM products)
         || ' orders=' || (SELECT count(*) FROM orders) || ' order_items=' || (SELECT count(*) FROM order_items)"
