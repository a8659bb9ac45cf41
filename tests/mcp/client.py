"""An MCP client that is not ours (the official Python SDK) acting as a Judge agent: it runs a whole
dialogue through `dlg mcp` using only MCP tools. Five experts, four rounds: before each round it
reads the context, drafts the round from the experts' marker text, adjusts the draft (panel,
scores), and registers it; it then tries a premature final verdict, accepts the one tension left,
and reads back the scoreboard, an entity and the export.

Usage: client.py DLG_BINARY DLG_HOME. Prints one JSON object with what it saw; exits non-zero on
any unexpected answer.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

EXPERTS = [
    {"slug": "muffin", "role": "Architect", "tier": "Core"},
    {"slug": "cupcake", "role": "Domain expert", "tier": "Core"},
    {"slug": "scone", "role": "Security", "tier": "Adjacent"},
    {"slug": "eclair", "role": "Operations", "tier": "Adjacent"},
    {"slug": "donut", "role": "Contrarian", "tier": "Wildcard"},
]

# What each expert writes, round by round, in the markers agent tooling uses. Earlier entities are
# named by global id (T0001) or by the local id their author used (MUFFIN-P0001).
RESPONSES = [
    {
        "muffin": "[PERSPECTIVE P01: Serve the ledger over MCP]\nTools over stdio, JSON in and out.\n",
        "cupcake": "[TENSION T01: Schema drift]\nAgents send typos and stale fields.\n",
        "scone": "[TENSION T02: Retries]\nTimeouts cause resends; a round could land twice.\n",
        "eclair": "[PERSPECTIVE P01: Run it locally first]\nSQLite by default, DynamoDB at scale.\n",
        "donut": "[PERSPECTIVE P01: Ask the readers]\nThe people reading it decide what matters.\n",
    },
    {
        "muffin": "[PERSPECTIVE P01: Validate strictly]\nUnknown fields are refused.\n\n"
                  "[RESOLVED T0001: strict schemas catch the typos]\n",
        "cupcake": "[PERSPECTIVE P01: MCP before HTTP]\nAgents already speak it.\n[RE:SUPPORT MUFFIN-P0001]\n",
        "scone": "[TENSION T01: Key custody]\nWho holds the content key?\n",
        "eclair": "[RESOLVED T0002: a retried key answers the first receipt]\n",
        "donut": "[TENSION T01: Shredding]\nCan content be destroyed on request?\n",
    },
    {
        "muffin": "[MOVE:CONVERGE]\n",
        "cupcake": "[MOVE:CONVERGE]\n",
        "scone": "[RESOLVED T0101: a key service holds it]\n\n"
                 "[ACKNOWLEDGED T0102: a shredding key per dialogue would do]\n",
        "eclair": "[MOVE:CONVERGE]\n",
        "donut": "[PERSPECTIVE P01: Keep a human in the loop]\nA person signs off the verdict.\n",
    },
    {
        "muffin": "[MOVE:CONVERGE]\n",
        "cupcake": "[MOVE:CONVERGE]\n",
        "scone": "[MOVE:CONVERGE]\nShredding can wait for its own dialogue.\n",
        "eclair": "[MOVE:CONVERGE]\n",
        # donut sits on the last round's panel but writes nothing.
    },
]
SCORES = [
    {"muffin": 8, "cupcake": 6, "scone": 7, "eclair": 5, "donut": 4},
    {"muffin": 9, "cupcake": 3, "scone": 6, "eclair": 4, "donut": 5},
    {"muffin": 2, "cupcake": 2, "scone": 8, "eclair": 6, "donut": 1},
    {"muffin": 2, "cupcake": 2, "scone": 3, "eclair": 2},
]


def payload(result):
    """The structured answer of a tool call (or its text parsed as JSON)."""
    if getattr(result, "structuredContent", None) is not None:
        return result.structuredContent
    return json.loads(result.content[0].text)


def check(condition, what):
    if not condition:
        raise AssertionError(what)


async def main(binary, home):
    env = dict(os.environ, DLG_HOME=home, DLG_ACTOR="python-mcp-judge")
    env.pop("DLG_STORE", None)
    params = StdioServerParameters(command=binary, args=["mcp"], env=env)
    seen = {"contexts": [], "drafts": [], "receipts": []}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()

            async def call(tool, arguments):
                result = await session.call_tool(tool, arguments)
                check(not result.isError, f"{tool} failed: {result.content}")
                return payload(result)

            tools = await session.list_tools()
            seen["tools"] = sorted(tool.name for tool in tools.tools)
            schemas = {tool.name: tool.inputSchema for tool in tools.tools}
            check("request" in schemas["register_round"]["properties"], schemas["register_round"])
            context_schema = schemas["round_context"]["properties"]
            seen["context_options"] = sorted(context_schema)
            seen["responses_enum"] = context_schema["responses"].get("enum")
            seen["depth_maximum"] = schemas["query_graph"]["properties"]["depth"].get("maximum")
            seen["read_only"] = sorted(tool.name for tool in tools.tools
                                       if tool.annotations and tool.annotations.readOnlyHint)

            created = await call("create_dialogue", {
                "request": {"title": "MCP dialogue", "question": "Can a Judge agent run a dialogue over MCP?",
                            "experts": EXPERTS},
                "idempotency_key": "create-1",
            })
            dialogue = created["dialogue"]
            seen["dialogue"] = dialogue

            for number, texts in enumerate(RESPONSES):
                context = await call("round_context", {"dialogue": dialogue})
                check(context["round"] == number, context)
                check(context["characters"] <= context["budget"], context)
                check(not context["convergence"]["can_converge"], context)
                seen["contexts"].append({
                    "round": context["round"],
                    "open": sorted(e["id"] for e in context["entities"]
                                   if e["kind"] == "tension" and e["status"] != "resolved"),
                    "previous_panel": [s["expert"] for s in (context.get("previous") or {}).get("panel", [])],
                    "previous_gaps": (context.get("previous") or {}).get("gaps", []),
                    "velocities": [r["velocity"] for r in context["convergence"]["rounds"]],
                    "velocity_falling": context["convergence"]["velocity_falling"],
                })

                drafted = await call("draft_round", {"dialogue": dialogue, "request": {
                    "round": number, "title": f"Round {number}", "summary": f"What round {number} settled",
                    "responses": [{"expert": e, "text": t, "score": SCORES[number][e]} for e, t in texts.items()],
                }})
                check(drafted["errors"] == [], drafted)
                seen["drafts"].append({
                    "round": drafted["round"],
                    "warnings": drafted["warnings"],
                    "moves": len(drafted["request"].get("moves", [])),
                    "status_updates": [(u["id"], u["status"]) for u in drafted["request"].get("status_updates", [])],
                })
                request = drafted["request"]
                if number == 3:
                    # The Judge names the last panel, with a reason, and scores by dimension.
                    request["panel"] = [{"expert": e["slug"], "source": "retained"} for e in EXPERTS]
                    request["panel"][4]["reason"] = "kept to hear a dissent"
                    for entry in request["experts"]:
                        if entry["expert"] == "scone":
                            del entry["score"]
                            entry["dimensions"] = {"wisdom": 1, "consistency": 1, "truth": 0.5, "relationships": 0.5}
                if number == 1:
                    # A reference of the wrong type is refused with how to fix it; nothing is stored.
                    bad = json.loads(json.dumps(request))
                    bad["perspectives"][0]["references"] = [{"type": "resolve", "target": "P0001"}]
                    rejected = await session.call_tool("register_round", {"dialogue": dialogue, "request": bad,
                                                                          "idempotency_key": "round-1-bad"})
                    check(rejected.isError, rejected)
                    errors = payload(rejected)["errors"]
                    seen["rejected"] = [(e["code"], e["field"], e.get("suggestion")) for e in errors]
                receipt = await call("register_round", {"dialogue": dialogue, "request": request,
                                                        "idempotency_key": f"round-{number}"})
                seen["receipts"].append({"mapping": receipt.get("id_mapping", {}), "notes": receipt.get("notes", [])})
                if number == 1:
                    retried = await call("register_round", {"dialogue": dialogue, "request": request,
                                                            "idempotency_key": "round-1"})
                    check(retried["replayed"] is True and retried["commit"] == receipt["commit"], retried)

            board = await call("scoreboard", {"dialogue": dialogue})
            seen["velocities"] = [r["velocity"] for r in board["rounds"]]
            seen["converged_share"] = [r["converge_share"] for r in board["rounds"]]
            seen["velocity_falling"] = board["velocity_falling"]
            seen["blockers_before_verdict"] = board["blockers"]

            final = {"verdict_id": "final", "type": "final", "recommendation": "Serve the ledger over MCP",
                     "confidence": "strong", "author_expert": "muffin", "supporting_experts": ["cupcake", "scone"]}
            premature = await session.call_tool("register_verdict", {"dialogue": dialogue, "request": final})
            check(premature.isError, premature)
            seen["premature"] = [(e["code"], e.get("valid_options")) for e in payload(premature)["errors"]]
            final["tensions_accepted"] = seen["premature"][0][1]
            verdict = await call("register_verdict", {"dialogue": dialogue, "request": final,
                                                      "idempotency_key": "verdict"})
            seen["verdict_commit"] = verdict["commit"]

            listed = await call("list_dialogues", {})
            seen["status_after_verdict"] = [d["status"] for d in listed["dialogues"]]
            late = await session.call_tool("register_round", {"dialogue": dialogue,
                                                              "request": {"round": 4, "title": "After the end"}})
            check(late.isError, late)
            seen["late_round"] = [e["code"] for e in payload(late)["errors"]]

            board = await call("scoreboard", {"dialogue": dialogue})
            seen["leaderboard"] = [(s["expert"], s["total"]) for s in board["leaderboard"]]
            seen["can_converge"] = board["can_converge"]
            seen["scone_dimensions"] = [s.get("dimensions") for s in board["leaderboard"] if s["expert"] == "scone"]

            tension = await call("get_entity", {"dialogue": dialogue, "entity": "T0001"})
            seen["entity"] = {
                "status": tension["status"],
                "label": tension["label"],
                "addressed_by": tension["addressed_by"],
                "events": [(e["type"], e["round"], e.get("reference")) for e in tension["events"]],
            }

            perspective = await call("get_entity", {"dialogue": dialogue, "entity": "P0001"})
            seen["supported_by"] = [(r["entity"], r["type"]) for r in perspective["references_in"]]
            after = await call("round_context", {"dialogue": dialogue, "responses": "none"})
            seen["after"] = {"round": after["round"], "status": after["status"],
                             "panel": [(s["expert"], s["source"], s["reason"]) for s in after["previous"]["panel"]],
                             "gaps": after["previous"]["gaps"]}

            too_deep = await session.call_tool("query_graph", {"dialogue": dialogue, "query": "k_hop",
                                                              "entity": "T0001", "depth": 99})
            check(too_deep.isError, too_deep)
            missing = await session.call_tool("scoreboard", {"dialogue": "no-such-dialogue"})
            check(missing.isError, missing)
            seen["missing_says"] = payload(missing)["error"]["message"]
            open_tensions = await call("query_graph", {"dialogue": dialogue, "query": "open_tensions"})
            seen["open_tensions"] = [t["id"] for t in open_tensions["open_tensions"]]
            export = await call("export_dialogue", {"dialogue": dialogue})
            seen["exported"] = {kind: len(export[kind]) for kind in ("perspectives", "tensions")}
            seen["exported_status"] = export["status"]
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
