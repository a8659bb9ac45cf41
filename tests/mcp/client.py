"""An MCP client that is not ours (the official Python SDK) driving `dlg mcp` end to end.

Usage: client.py DLG_BINARY DLG_HOME. Prints one JSON object with what it saw; exits non-zero on
any unexpected answer.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def payload(result):
    """The structured answer of a tool call (or its text parsed as JSON)."""
    if getattr(result, "structuredContent", None) is not None:
        return result.structuredContent
    return json.loads(result.content[0].text)


async def main(binary, home):
    env = dict(os.environ, DLG_HOME=home, DLG_ACTOR="python-mcp-client")
    env.pop("DLG_STORE", None)
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    seen = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            seen["tools"] = sorted(tool.name for tool in tools.tools)
            schemas = {tool.name: tool.inputSchema for tool in tools.tools}
            assert "request" in schemas["register_round"]["properties"], schemas["register_round"]
            context_schema = schemas["round_context"]["properties"]
            seen["context_options"] = sorted(context_schema)
            seen["responses_enum"] = context_schema["responses"].get("enum")
            seen["depth_maximum"] = schemas["query_graph"]["properties"]["depth"].get("maximum")
            seen["read_only"] = sorted(tool.name for tool in tools.tools
                                       if tool.annotations and tool.annotations.readOnlyHint)

            created = payload(await session.call_tool("create_dialogue", {
                "request": {
                    "title": "MCP dialogue",
                    "question": "Can a Judge agent use the ledger through MCP?",
                    "experts": [{"slug": "muffin", "role": "Architect"}, {"slug": "cupcake", "role": "Domain expert"}],
                },
                "idempotency_key": "create-1",
            }))
            dialogue = created["dialogue"]
            seen["dialogue"] = dialogue

            round0 = payload(await session.call_tool("register_round", {
                "dialogue": dialogue,
                "request": {
                    "round": 0, "score": 10.0, "summary": "Opening",
                    "perspectives": [{"id": "MUFFIN-P0001", "label": "Use MCP", "content": "Tools over stdio."}],
                    "tensions": [
                        {"id": "CUPCAKE-T0001", "label": "Schema drift", "description": "Agents send typos.",
                         "references": [{"type": "oppose", "target": "MUFFIN-P0001"}]},
                        {"id": "CUPCAKE-T0002", "label": "Retries", "description": "Timeouts cause resends."},
                    ],
                },
                "idempotency_key": "round-0",
            }))
            seen["round0_mapping"] = round0["id_mapping"]

            context = payload(await session.call_tool("round_context", {"dialogue": dialogue}))
            assert context["round"] == 1, context
            tensions = [e for e in context["entities"] if e["kind"] == "tension"]
            assert [t["status"] for t in tensions] == ["open", "open"], context
            assert context["characters"] <= context["budget"], context
            assert not context["convergence"]["can_converge"], context
            assert "Schema drift" in context["markdown"], context

            bad_round = {
                "round": 1,
                "perspectives": [{"id": "MUFFIN-P0101", "label": "Validate strictly",
                                  "references": [{"type": "resolve", "target": "P0001"}]}],
                "status_updates": [{"id": "T0001", "status": "resolved", "by": "muffin", "via": "MUFFIN-P0101"}],
            }
            rejected = await session.call_tool("register_round", {"dialogue": dialogue, "request": bad_round,
                                                                  "idempotency_key": "round-1"})
            assert rejected.isError, rejected
            errors = payload(rejected)["errors"]
            seen["rejected_codes"] = [e["code"] for e in errors]
            seen["suggestion"] = errors[0].get("suggestion")

            # The agent corrects the reference from the error and resends.
            bad_round["perspectives"][0]["references"] = [{"type": "resolve", "target": "T0001"}]
            round1 = payload(await session.call_tool("register_round", {"dialogue": dialogue, "request": bad_round,
                                                                        "idempotency_key": "round-1-fixed"}))
            seen["round1_mapping"] = round1["id_mapping"]
            retried = payload(await session.call_tool("register_round", {"dialogue": dialogue, "request": bad_round,
                                                                         "idempotency_key": "round-1-fixed"}))
            assert retried["replayed"] is True and retried["commit"] == round1["commit"], retried

            final = {"verdict_id": "final", "type": "final", "recommendation": "Serve the ledger over MCP",
                     "confidence": "strong"}
            premature = await session.call_tool("register_verdict", {"dialogue": dialogue, "request": final})
            assert premature.isError, premature
            seen["premature"] = [(e["code"], e.get("valid_options")) for e in payload(premature)["errors"]]
            final["tensions_accepted"] = ["T0002"]
            verdict = payload(await session.call_tool("register_verdict", {"dialogue": dialogue, "request": final}))
            seen["verdict_commit"] = verdict["commit"]
            listed = payload(await session.call_tool("list_dialogues", {}))
            seen["status_after_verdict"] = [d["status"] for d in listed["dialogues"]]
            board = payload(await session.call_tool("scoreboard", {"dialogue": dialogue}))
            seen["velocities"] = [r["velocity"] for r in board["rounds"]]
            seen["leader"] = board["leaderboard"][0]["expert"]
            too_deep = await session.call_tool("query_graph", {"dialogue": dialogue, "query": "k_hop",
                                                              "entity": "T0001", "depth": 99})
            assert too_deep.isError, too_deep
            missing = await session.call_tool("scoreboard", {"dialogue": "no-such-dialogue"})
            assert missing.isError, missing
            seen["missing_says"] = payload(missing)["error"]["message"]

            open_tensions = payload(await session.call_tool("query_graph", {"dialogue": dialogue,
                                                                            "query": "open_tensions"}))
            seen["open_tensions"] = [t["id"] for t in open_tensions["open_tensions"]]
            neighbours = payload(await session.call_tool("query_graph", {"dialogue": dialogue, "query": "neighbours",
                                                                         "entity": "T0001"}))
            seen["neighbours_of_T0001"] = sorted(n["id"] for n in neighbours["nodes"])
            export = payload(await session.call_tool("export_dialogue", {"dialogue": dialogue}))
            seen["exported_tensions"] = len(export["tensions"])
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
