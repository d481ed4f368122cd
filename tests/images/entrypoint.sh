#!/bin/sh
# Entry point of the legacy-pg test images (see tests/images/build_pg_image.py).
#
# First start: initialise $PGDATA with the superuser password taken from
# POSTGRES_PASSWORD. Host connections use password auth (md5) unless the
# caller explicitly asks for another method in POSTGRES_HOST_AUTH_METHOD
# (tests use that to plant a `trust` finding). Local socket connections use
# `peer`, so `docker exec <c> pg_dumpall -U postgres` works as the image user
# without a password and without `trust`.
# Every start: exec postgres with the arguments given to the container
# (e.g. `-c wal_level=logical`).
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
auth="${POSTGRES_HOST_AUTH_METHOD:-md5}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ "$auth" != "trust" ] && [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "legacy-pg: POSTGRES_PASSWORD is empty. Start the container with" \
             "-e POSTGRES_PASSWORD=<password> (password auth is the default)." >&2
        exit 1
    fi
    umask 077
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        pwfile=/tmp/.legacy-pg-initdb-pw
        printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
        initdb -D "$PGDATA" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C \
            --auth-local=peer --auth-host="$auth"
        rm -f "$pwfile"
    else
        initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C \
            --auth-local=peer --auth-host="$auth"
    fi
    printf '%s\n' \
        "host all all 0.0.0.0/0 $auth" \
        "host all all ::/0 $auth" >> "$PGDATA/pg_hba.conf"
    printf '%s\n' \
        "listen_addresses = '*'" \
        "unix_socket_directories = '/var/run/postgresql, /tmp'" >> "$PGDATA/postgresql.conf"
    echo "legacy-pg: data directory initialised (host auth: $auth)"
fi

unset POSTGRES_PASSWORD
exec postgres -D "$PGDATA" "$@"
