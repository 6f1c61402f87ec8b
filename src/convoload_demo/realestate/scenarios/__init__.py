"""The realestate suite: `convoload pipeline`'s scenarios against the bundled real-estate system.

Registered as `realestate` under `convoload.scenarios` (pyproject.toml). Besides its scenarios it
brings what only this system can tell: whether the listings the assistant quotes match its catalog
(`data_consistency`), which of its agents may hand a conversation to which, and where its replies
report the hand-offs they made.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from convoload.config import GoalConfig
from convoload.pipeline.model import ScenarioSuite, parse_scenarios
from convoload_demo.bundled import REALESTATE
from convoload_demo.realestate.scenarios.consistency import DATA_CONSISTENCY

# The hand-offs the assistant's agents may make (their transfer_to_<agent> tools); anything else is a
# coordination fault.
ALLOWED_HANDOFFS = frozenset(
    {
        ("triagem", "busca"),
        ("triagem", "imovel"),
        ("triagem", "agendamento"),
        ("busca", "imovel"),
        ("busca", "triagem"),
        ("imovel", "agendamento"),
        ("imovel", "busca"),
        ("agendamento", "imovel"),
        ("agendamento", "busca"),
    }
)
_UNREADABLE = ("?", "?")  # a hand-off the reply reports in a shape we cannot read: never an allowed one


def read_handoffs(raw: Any) -> list[tuple[str, str]] | None:
    """The hand-offs a reply reports (`"handoffs": [{"from": a, "to": b}]`); None when it reports none.

    Webhook targets give the list of callback documents of one reply: their hand-offs, in order.
    """
    documents = raw if isinstance(raw, list) else [raw]
    reported = [d["handoffs"] for d in documents if isinstance(d, dict) and "handoffs" in d]
    if not reported:
        return None
    moves = []
    for handoffs in reported:
        for item in handoffs if isinstance(handoffs, list) else [handoffs]:
            source = item.get("from") if isinstance(item, dict) else None
            target = item.get("to") if isinstance(item, dict) else None
            ok = isinstance(source, str) and isinstance(target, str)
            moves.append((source, target) if ok else _UNREADABLE)
    return moves


_SCENARIOS = (resources.files(__package__) / "scenarios.yaml").read_text(encoding="utf-8")

SUITE = ScenarioSuite(
    name="realestate",
    description="a booking journey, catalog data integration, concurrency and bad input, against the "
    "bundled real-estate assistant and its catalog",
    system="realestate",
    options={"listings": 3_000, "brain": "rules"},  # graded runs are reproducible: no LLM brain
    scenarios=tuple(parse_scenarios(_SCENARIOS, "convoload_demo/realestate/scenarios/scenarios.yaml")),
    checks=(DATA_CONSISTENCY,),
    personas=REALESTATE.personas,  # the system's own customers and goal, for scenarios that name none
    goal=GoalConfig(type="regex", pattern=REALESTATE.goal),
    allowed_handoffs=ALLOWED_HANDOFFS,
    read_handoffs=read_handoffs,
    rubric="realestate",  # `convoload pipeline --judge`: the conversation judge's rubric for its scenarios
)
