#!/usr/bin/env bash
# Idempotent machine and project setup shared by `make demo` and `make test`.
#
#  1. Debian packages the project needs (docker.io when no engine answers,
#     postgresql-client, skopeo, npm; chromium for make test) - installed only when missing, only as
#     root on Debian/Ubuntu; otherwise a clear message and exit 1.
#  2. A Docker engine that answers (dockerd started in the background when
#     none runs; its log goes to .cache/dockerd.log).
#  3. .venv/ with the pinned Python dependencies (skipped while
#     requirements-dev.txt is unchanged).
#  4. The collection linked into .collections/ so ssot.governance.* resolves
#     with ANSIBLE_COLLECTIONS_PATH=<repo>/.collections.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CACHE="${SSOT_CACHE:-$ROOT/.cache}"
PYTHON="${PYTHON:-python3.11}"
mkdir -p "$CACHE"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

# --- 1. Debian packages ---------------------------------------------------
missing=()
command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Libraries the PostgreSQL 15 test image copies from this machine (the server
# itself comes as a .deb that is unpacked, never installed).
for pkg in libicu72 libxml2 libxslt1.1 libldap-2.5-0 liblz4-1 libzstd1 tzdata; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
    missing+=(docker.io)
fi
# make test: the panel page is opened in a real browser (Debian's chromium, headless).
if [ "${SSOT_WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi
# make test / bench-fleet: the fleet's test hosts are real sshd servers on loopback (openssh-server), and the
# target side runs the modules with the system Python 3, whose libraries community.docker and
# community.postgresql import there.
# make test / sanity: ansible-test sanity runs shellcheck on the shell scripts (skipped with a warning without it).
if [ "${SSOT_WITH_SANITY:-0}" = 1 ] && ! command -v shellcheck >/dev/null 2>&1; then
    missing+=(shellcheck)
fi
if [ "${SSOT_WITH_FLEET:-0}" = 1 ]; then
    for pkg in openssh-server python3-requests python3-psycopg2; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
fi
if [ "${#missing[@]}" -gt 0 ]; then
    if can_apt; then
        # Installing openssh-server must not start a system sshd listening on every interface: the tests start
        # their own, on loopback. policy-rc.d (Debian's switch for that) is in place only during the install.
        policy_rc=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_rc=1
        fi
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >"$CACHE/apt.log" 2>&1 || die "apt-get update failed; see $CACHE/apt.log"
        apt-get install -y -qq "${missing[@]}" >>"$CACHE/apt.log" 2>&1 \
            || { [ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed; see $CACHE/apt.log"; }
        [ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d
    else
        die "missing: ${missing[*]}. Install them with your package manager (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again."
    fi
fi

# --- 2. Docker engine -----------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        die "no Docker engine answers and we are not root: start Docker (sudo systemctl start docker) or add your user to the docker group, then run again."
    fi
    say "starting dockerd (log: $CACHE/dockerd.log)"
    nohup dockerd >>"$CACHE/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see $CACHE/dockerd.log"
fi

# --- 3. virtualenv with pinned deps ---------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
want="$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
    say "installing pinned Python dependencies"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt" \
        || die "pip install failed (see the output above)"
    echo "$want" >"$VENV/.requirements.sha256"
fi

# ansible-test's pip bootstrap, made from the package index (it would download it from a host outside the registries).
"$VENV/bin/python" "$ROOT/scripts/ansible_test.py" bootstrap || die "could not write ansible-test's pip bootstrap"

# --- 4. the collection in a repo-local collections path -------------------
mkdir -p "$ROOT/.collections/ansible_collections/ssot"
ln -sfn ../../.. "$ROOT/.collections/ansible_collections/ssot/governance"

say "ready (venv: $VENV, collections: $ROOT/.collections, docker: $(docker version -f '{{.Server.Version}}'))"
