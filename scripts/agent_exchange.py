# Copyright (c) ssot.governance maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive the agent's MCP server with the SDK's stdio client, from status to a drafted approval, and print the
exchange as Markdown (the example in docs/agent.md was made with it).

    python scripts/agent_exchange.py WORKSPACE [--name legacy-pg-demo]

The workspace must hold a pending decision (a validation that found a deviation). The server is started with this
process's environment (the SSOT's password variable, ANSIBLE_CONFIG, ...), exactly as an MCP client starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import Implementation

ROOT = Path(__file__).resolve().parents[1]


def block(title, request, answer):
    print(f"**{title}**\n\n```json\n{json.dumps(request, indent=2, ensure_ascii=False)}\n```\n")
    print(f"```json\n{json.dumps(answer, indent=2, ensure_ascii=False)}\n```\n")


def server(workspace, name):
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".collections"))
    params = StdioServerParameters(command=sys.executable, env=env, cwd=workspace,
                                   args=["-m", "ansible_collections.ssot.governance.agent", "--workspace",
                                         f"{name}={workspace}"])
    return Client(params, client_info=Implementation(name="exemplo-docs", version="1.0"))


async def after_approval(workspace, name):
    """Once a human signed and ran MODIFY: the assistant validates again."""
    async with server(workspace, name) as client:
        seen = []

        async def progress(done, total, message):
            seen.append(message)
        result = await client.call_tool("run_validate", {"environment": name}, progress_callback=progress)
        r = result.structured_content
        block("5. run_validate", {"tool": "run_validate", "arguments": {"environment": name}},
              dict({k: r[k] for k in ("summary", "run", "run_status", "pending_decisions", "evidence", "log")},
                   progress_notifications=len(seen), first_progress=seen[:3]))


async def exchange(workspace, name):
    async with server(workspace, name) as client:
        status = await client.call_tool("status", {"environment": name})
        s = status.structured_content
        block("1. status", {"tool": "status", "arguments": {"environment": name}},
              {k: s[k] for k in ("summary", "pending_decisions")})
        decision = s["pending_decisions"][0]["id"]
        card = await client.call_tool("explain_decision", {"environment": name, "decision": decision})
        c = card.structured_content
        asked = {"environment": name, "decision": decision}
        sections = [{"heading": x["heading"], "text": x["text"]} for x in c["ssot_sections"]]
        block("2. explain_decision", {"tool": "explain_decision", "arguments": asked},
              {"card": c["card"], "ssot_sections": sections, "how_to_approve": c["how_to_approve"]})
        draft = await client.call_tool("draft_approval", {"environment": name, "decision": decision, "option": "fix"})
        d = draft.structured_content
        asked = dict(asked, option="fix")
        block("3. draft_approval", {"tool": "draft_approval", "arguments": asked},
              {k: d[k] for k in ("entry", "signed", "how_to_approve", "note")})
        try:
            await client.call_tool("run_validate", {"environment": name, "tags": "modify"})
        except Exception as exc:  # the refusal is the point: show it
            block("4. run_validate with tags (refused)", {"tool": "run_validate",
                                                          "arguments": {"environment": name, "tags": "modify"}},
                  {"error": str(exc)})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("workspace")
    parser.add_argument("--name", default="legacy-pg-demo")
    parser.add_argument("--after-approval", action="store_true",
                        help="only validate again (after a human signed the approval and ran MODIFY)")
    args = parser.parse_args(argv)
    run = after_approval if args.after_approval else exchange
    asyncio.run(run(os.path.abspath(args.workspace), args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
