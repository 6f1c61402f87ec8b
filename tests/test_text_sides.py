"""The simulated customer and the agents under test read text with different code, never shared.

convoload reads conversations (personas, playbooks, hooks) with `convoload.textutil`; the demo pack's
agents use their own normalisers, number words and month names. If both sides shared one, a parsing
bug in it would cancel itself out: the agent would "understand" exactly what the customer "meant", and a
broken agent would pass. Read from the source (AST), lazy imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CUSTOMER_TEXT = "convoload.textutil"
AGENT_TEXT = {
    "convoload_demo.tickets.text",
    "convoload_demo.realestate.swarm.rules.text",
    "convoload_demo.months",
}
# The demo pack's customer side: it plays and watches customers, with convoload's helpers.
PACK_CUSTOMER_SIDE = {
    "convoload_demo.hooks",
    "convoload_demo.tickets.playbook",
    "convoload_demo.realestate.playbook",
}
# The demo pack's agents (and what they are built from).
PACK_AGENTS = (
    "convoload_demo.tickets",
    "convoload_demo.realestate.swarm",
    "convoload_demo.realestate.assistant",
    "convoload_demo.realestate.catalog",
    "convoload_demo.months",
)


def modules(package: str) -> dict[str, set[str]]:
    """Every module of a top-level package and the modules it imports (`from a import b` counts a.b)."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[name] = imported
    return found


def test_the_customer_side_never_reads_with_an_agents_text_helpers():
    customer_side = modules("convoload")
    pack = modules("convoload_demo")
    assert set(pack) >= PACK_CUSTOMER_SIDE, "the pack's customer side moved: update this test"
    customer_side.update({name: pack[name] for name in PACK_CUSTOMER_SIDE})
    shared = {
        name: sorted(imports & AGENT_TEXT) for name, imports in customer_side.items() if imports & AGENT_TEXT
    }
    assert shared == {}


def test_the_pack_agents_never_read_with_the_customers_text_helpers():
    pack = modules("convoload_demo")
    agents = {
        name: imports
        for name, imports in pack.items()
        if name.startswith(PACK_AGENTS) and name not in PACK_CUSTOMER_SIDE
    }
    assert len(agents) > 20 and set(pack) >= AGENT_TEXT
    shared = {name for name, imports in agents.items() if any(i.startswith(CUSTOMER_TEXT) for i in imports)}
    assert shared == set()
