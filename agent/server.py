# Copyright (c) ssot.governance maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MCP server of ssot.governance: an assistant beside the operator reads, validates, explains and drafts;
it never approves, signs, writes approvals.yml, changes a server or passes tags (docs/agent.md).

    PYTHONPATH=<collections path> python -m ansible_collections.ssot.governance.agent \\
        --workspace legacy-pg-demo=/path/to/workspace [--workspace other=/path ...]

stdio transport (the MCP client starts it). The environment it is started with is the runs' environment: the
variables the SSOT's secret references name (for validate to log in), ANSIBLE_COLLECTIONS_PATH, SSOT_SEAL_KEY and
SSOT_STORE* as for ansible-playbook. Those values are used, never returned: every answer goes through the
recorder's redactor. The protocol is all this file adds; what the tools do is plugins/plugin_utils/_agent.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context, ResourceSecurity
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _agent, _human

INSTRUCTIONS = """\
ssot.governance: governed reproduction of legacy environments. SSOT first; validate before modify; every change
needs a named human's approval, which you can draft (draft_approval) but never give. Stop at every pending decision,
show its card (explain_decision) to the operator, and cite the evidence files (resources ssot://<env>/evidence/...).
The skill in skills/ssot-governance/SKILL.md of the collection says how to work."""

# The only arguments each tool takes (_agent.TOOL_ARGUMENTS): anything else (tags, playbook, extra vars, an
# approval) is refused before the tool runs, and nothing is recorded or run.
TOOL_ARGUMENTS = _agent.TOOL_ARGUMENTS
TOOL_DESCRIPTIONS = {
    "status": (
        "Milestones, pending decisions, deviations, last runs and next steps of an environment, in the "
        "operator's language (from runbook.json and project-panel.json)."
    ),
    "explain_decision": (
        "The card of a decision (context, options, risk, rollback), the SSOT sections it concerns and how a "
        "named human approves it. Show it to the operator as it is."
    ),
    "draft_approval": (
        "The approvals.yml entry for a decision and option, for a human to review, complete and sign. Writes "
        "nothing; the assistant never approves."
    ),
    "run_validate": (
        "Run the read-only validation (ssot.governance.validate) through ansible-runner, with no terminal: a "
        "decision gate fails closed. Progress per task; returns the run, the pending decisions and where the "
        "evidence is."
    ),
    "run_verify": (
        "Re-walk the journal's hash chain and seals and re-hash every evidence file and view "
        "(ssot.governance.verify) through ansible-runner. Returns the run and its verdict."
    ),
}
# Path parameters are checked by _agent (a path inside the workspace, no '..', no link), with the operator's message.
OWN_PATH_CHECK = ResourceSecurity(exempt_params={"path"})


def build(environments):
    """The MCP server over ``environments`` ({name: _agent.Environment})."""
    pending = {}  # environment -> records a run kept from being written yet
    running = dict((name, anyio.Lock()) for name in environments)

    async def only_declared_arguments(ctx, call_next):
        if ctx.method == "tools/call" and isinstance(ctx.params, dict):
            tool = ctx.params.get("name")
            given = set((ctx.params.get("arguments") or {}).keys())
            extra = sorted(given - TOOL_ARGUMENTS.get(tool, given))
            if extra:
                raise MCPError(INVALID_PARAMS, message(operator_language(), "agent.forbidden_argument", tool=tool,
                                                       arguments=", ".join(extra)))
        return await call_next(ctx)

    server = MCPServer("ssot.governance", instructions=INSTRUCTIONS, middleware=[only_declared_arguments],
                       log_level="WARNING")

    def env_of(name, error):
        if name not in environments:
            raise error(message(operator_language(), "agent.unknown_environment", environment=name,
                                known=", ".join(sorted(environments))))
        return environments[name]

    def client_name(ctx):
        params = getattr(ctx.session, "client_params", None)
        info = getattr(params, "client_info", None)
        return getattr(info, "name", None) or "-"

    async def recorded(ctx, env, tool, arguments, result):
        """Write this call (and any kept earlier) into the environment's journal; say so in the answer if not."""
        queue = pending.setdefault(env.name, [])
        queue.append((client_name(ctx), tool, arguments, result["summary"], result.get("run")))
        while queue:
            written = await anyio.to_thread.run_sync(lambda: env.record(*queue[0]))
            if not written:
                result["record"] = message(env.language, "agent.record_pending")
                break
            queue.pop(0)
        return result

    async def answer(ctx, tool, arguments, method, *args):
        """Run ``method`` of the environment the arguments name (off the event loop), record the call, answer."""
        env = env_of(arguments["environment"], ToolError)
        try:
            result = await anyio.to_thread.run_sync(lambda: method(env, *args))
        except _agent.AgentError as exc:
            raise ToolError(str(exc))
        return await recorded(ctx, env, tool, arguments, result)

    @server.tool(structured_output=True, description=TOOL_DESCRIPTIONS["status"])
    async def status(environment: str, ctx: Context) -> dict[str, Any]:
        return await answer(ctx, "status", {"environment": environment}, _agent.Environment.status)

    @server.tool(structured_output=True, description=TOOL_DESCRIPTIONS["explain_decision"])
    async def explain_decision(environment: str, decision: str, ctx: Context) -> dict[str, Any]:
        return await answer(ctx, "explain_decision", {"environment": environment, "decision": decision},
                            _agent.Environment.explain, decision)

    @server.tool(structured_output=True, description=TOOL_DESCRIPTIONS["draft_approval"])
    async def draft_approval(environment: str, decision: str, option: str, ctx: Context) -> dict[str, Any]:
        return await answer(ctx, "draft_approval", {"environment": environment, "decision": decision, "option": option},
                            _agent.Environment.draft, decision, option)

    async def run_read_only(ctx, environment, tool):
        env = env_of(environment, ToolError)

        def on_task(count, name):
            anyio.from_thread.run(ctx.report_progress, count, None, name)

        async with running[env.name]:
            try:
                result = await anyio.to_thread.run_sync(lambda: env.run(tool, on_task))
            except _agent.AgentError as exc:
                raise ToolError(str(exc))
        return await recorded(ctx, env, tool, {"environment": environment}, result)

    @server.tool(structured_output=True, description=TOOL_DESCRIPTIONS["run_validate"])
    async def run_validate(environment: str, ctx: Context) -> dict[str, Any]:
        return await run_read_only(ctx, environment, "run_validate")

    @server.tool(structured_output=True, description=TOOL_DESCRIPTIONS["run_verify"])
    async def run_verify(environment: str, ctx: Context) -> dict[str, Any]:
        return await run_read_only(ctx, environment, "run_verify")

    # --- resources: read-only, each environment's records --------------------------------------------------------
    def read(environment, what):
        env = env_of(environment, ResourceError)
        try:
            return what(env)
        except _agent.AgentError as exc:
            raise ResourceError(str(exc))

    @server.resource("ssot://environments", mime_type="application/json",
                     description="The environments this server knows and their workspaces.")
    def environment_list() -> str:
        return json.dumps([{"name": n, "workspace": e.workspace, "resources": "ssot://%s/..." % n}
                           for n, e in sorted(environments.items())], indent=2)

    @server.resource("ssot://{environment}/ssot", mime_type="application/json",
                     description="The SSOT normalized (defaults filled, secret references, never their values), "
                                 "with its digest.")
    def ssot(environment: str) -> str:
        def loaded(env):
            doc = env.ssot()
            return json.dumps(env.redactor.value({"path": env.ssot_path, "digest": doc["digest"],
                                                  "language": doc["language"], "ssot": doc["ssot"]}),
                              indent=2, ensure_ascii=False)
        return read(environment, loaded)

    def view(uri, rel, mime, description):
        @server.resource("ssot://{environment}/" + uri, name=uri, mime_type=mime, description=description)
        def resource(environment: str) -> str:
            return read(environment, lambda env: env.text(rel))
        return resource

    view("runbook.json", "runbook.json", "application/json", "The technical runbook (decisions, steps, runs).")
    view("project-panel.json", "project-panel.json", "application/json", "The panel (milestones, evidence).")
    view("checklist", _human.CHECKLIST, "text/markdown", "The homologation checklist, commands by hand.")

    @server.resource("ssot://{environment}/journal/tail", mime_type="application/json",
                     description="The journal's last 50 lines (hash-chained, as recorded).")
    def journal_tail(environment: str) -> str:
        return read(environment, lambda env: json.dumps(env.journal_tail(), indent=2, ensure_ascii=False))

    def folder(name, listed, one):
        """A folder of records: its listing, and each file by its path under it."""
        @server.resource("ssot://{environment}/" + name, name=name, mime_type="application/json", description=listed)
        def listing(environment: str) -> str:
            return read(environment, lambda env: json.dumps(env.listing(name)))

        @server.resource("ssot://{environment}/%s/{+path}" % name, name=name + "-file", mime_type="text/plain",
                         security=OWN_PATH_CHECK, description=one)
        def file(environment: str, path: str) -> str:
            return read(environment, lambda env: env.text(name + "/" + path))

    folder("logs", "The run logs (logs/<run>.log).", "One run's log: what it did, who decided what, what is pending.")
    folder("evidence", "The evidence files (evidence/<run>/<file>), as recorded.",
           "One evidence file by name (<run>/<file>), as the recorder kept it (redacted).")

    return server


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ansible_collections.ssot.governance.agent",
                                     description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--workspace", action="append", default=[], metavar="NAME=FOLDER",
                        help="an environment's workspace (repeat for a fleet); FOLDER alone is named after it")
    args = parser.parse_args(argv)
    try:
        environments = _agent.environments(args.workspace)
    except _agent.AgentError as exc:
        print("ssot.governance agent: %s" % exc, file=sys.stderr)
        return 2
    build(environments).run("stdio")
    return 0
