#!/usr/bin/env bash
# The demo job: prepare the workspace, provision the legacy container from the
# delivered tar, validate it read-only against the SSOT, print the summary.
# Called by `make demo` after setup and the image build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WS="$(mkdir -p "$1" && cd "$1" && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CACHE="${SSOT_CACHE:-$ROOT/.cache}"

"$VENV/bin/python" "$ROOT/scripts/init_workspace.py" "$WS" \
    --image-info "$CACHE/images/legacy-pg-10.23/build-info.json"

# The demo's superuser password: generated once, kept outside the workspace
# (the workspace holds evidence and must never hold a secret).
secret="$CACHE/demo-secrets/SSOT_PG_PASSWORD"
if [ ! -s "$secret" ]; then
    mkdir -p "$(dirname "$secret")" && chmod 700 "$(dirname "$secret")"
    (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$secret")
fi
SSOT_PG_PASSWORD="$(cat "$secret")"
export SSOT_PG_PASSWORD
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export ANSIBLE_CONFIG="$WS/ansible.cfg"

cd "$WS"
"$VENV/bin/ansible-playbook" ssot.governance.provision -e "ssot_workspace=$WS"
rc=0
"$VENV/bin/ansible-playbook" ssot.governance.validate -e "ssot_workspace=$WS" || rc=$?
echo
"$VENV/bin/python" "$ROOT/scripts/demo_summary.py" "$WS"
exit "$rc"
