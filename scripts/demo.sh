#!/usr/bin/env bash
# The demo job: prepare the workspace, provision the legacy container from the
# delivered tar, validate it read-only against the SSOT, print the summary.
# Called by `make demo` after setup and the image build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WS="$(mkdir -p "$1" && cd "$1" && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CACHE="${SSOT_CACHE:-$ROOT/.cache}"

# The demo's approver and recorder SSH keys: generated once, kept outside the
# workspace (like the demo password). Their public halves go into the demo's
# trust root (.cache/demo-secrets/trust.yml, SSOT_TRUST_ROOT: outside every
# workspace, docs/security.md); the approver signs the demo's approvals, the
# recorder seals the journal at the end of every run (SSOT_SEAL_KEY).
keys="$CACHE/demo-secrets"
mkdir -p "$keys" && chmod 700 "$keys"
for who in approver recorder; do
    [ -s "$keys/${who}_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "demo $who" -f "$keys/${who}_ed25519"
done
export SSOT_SEAL_KEY="$keys/recorder_ed25519"
export SSOT_TRUST_ROOT="$keys/trust.yml"

"$VENV/bin/python" "$ROOT/scripts/init_workspace.py" "$WS" \
    --image-info "$CACHE/images/legacy-pg-10.23/build-info.json" --demo-keys "$keys"

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

play() { "$VENV/bin/ansible-playbook" "ssot.governance.$1" -e "ssot_workspace=$WS" "${@:2}"; }
banner() { printf '\n==== %s ====\n' "$*"; }

cd "$WS"
banner "Fases 1-2: inventário e provisionamento"
play provision
# The demo's data source (phase 5): a second legacy container holding the seeded
# shop, as someone would provide it. No port published; its password is random
# and never used (the ingestion reads it through docker exec, as postgres).
source=legacy-pg-demo-source
if [ "$(docker inspect --format '{{.State.Running}}' "$source" 2>/dev/null)" != "true" ]; then
    banner "Fonte de dados da demo: contêiner $source com a base legada de exemplo"
    docker rm -f "$source" >/dev/null 2>&1 || true
    docker run -d --name "$source" --label io.ssot-governance.demo-source=true \
        -e POSTGRES_PASSWORD="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(18))')" \
        legacy-pg:10.23 >/dev/null
    for _ in $(seq 60); do docker exec "$source" pg_isready -U postgres -q 2>/dev/null && break; sleep 1; done
    "$ROOT/tests/images/seed_demo.sh" "$source"
fi
banner "Fases 1-3: inventário e validação somente leitura"
if play validate; then
    echo "demo: o servidor já confere com o SSOT (nada a decidir)"
else
    # The demo's SSOT asks work_mem=8MB and the delivered server runs the default:
    # a deviation with a pending decision. Without a terminal the MODIFY play
    # fails closed and prints the approvals.yml entry to paste.
    banner "MODIFY sem aprovação: para sem mudar nada (fail closed)"
    SSOT_NONINTERACTIVE=1 play modify --tags modify && { echo "demo: esperado falhar sem aprovação"; exit 1; }
    banner "Aprovação assinada (chave SSH) de uma pessoa nomeada, acrescentada a approvals.yml"
    "$VENV/bin/python" "$ROOT/scripts/demo_approve.py" "$WS" --key "$keys/approver_ed25519" \
        --prefix validate.setting. --option fix
    banner "MODIFY aprovado: plano, dados de rollback, aplicação, verificação"
    SSOT_NONINTERACTIVE=1 play modify --tags modify
    banner "Validação de novo"
    play validate
fi
banner "Fase 5: fontes e plano (somente leitura); carregar cada banco é uma decisão"
play ingest || true
banner "Aprovação assinada da ingestão (o cartão vem do journal selado)"
"$VENV/bin/python" "$ROOT/scripts/demo_approve.py" "$WS" --key "$keys/approver_ed25519" \
    --prefix ingest. --option ingest --reason "Demonstração - carregar a base legada de exemplo no alvo"
banner "Fase 5: ingestão aprovada (snapshot do alvo antes, contagens e checksums depois)"
SSOT_NONINTERACTIVE=1 play ingest --tags ingest
banner "Fase 5: conferência somente leitura (uma segunda ingestão não mudaria nada)"
play ingest
banner "Fase 6: snapshot replicável (verificado) e prova por restauração"
play snapshot
banner "Registros: cadeia de hashes, selos assinados, evidências e views conferidos"
play verify
echo
"$VENV/bin/python" "$ROOT/scripts/demo_summary.py" "$WS"

banner "Assistente ao lado do operador (servidor MCP): lê, valida e rascunha; nunca aprova"
cat <<EOF
Para iniciar o servidor (stdio; um cliente MCP o inicia assim):
  SSOT_PG_PASSWORD="\$(cat $secret)" SSOT_SEAL_KEY=$SSOT_SEAL_KEY SSOT_TRUST_ROOT=$SSOT_TRUST_ROOT \\
  ANSIBLE_CONFIG=$WS/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$ROOT/.collections PYTHONPATH=$ROOT/.collections \\
    $VENV/bin/python -m ansible_collections.ssot.governance.agent --workspace legacy-pg-demo=$WS
VS Code (modo agente) ou outro cliente: a configuração .vscode/mcp.json e uma conversa de exemplo estão em
docs/agent.md; a skill do assistente é skills/ssot-governance/SKILL.md.
EOF
