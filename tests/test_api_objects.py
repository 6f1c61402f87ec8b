"""Objects of the caller's own for every extension point of the Python API at once: a persona (not in
any file), a goal, a simulated user (a scripted config needs no playbook then), a target and a hook;
`converse` takes the persona object itself. The records show each one was the one used."""

from __future__ import annotations

from pathlib import Path

import pytest

import convoload
from convoload import GoalHit, Hook, Persona, TargetReply, UserMessage

pytestmark = pytest.mark.e2e  # whole runs under Locust's runner


class Counter:
    """A target that numbers its replies; the third says "pedido 3"."""

    kind = "counter"

    def send(self, session, text, iteration):
        reply = f"recebi '{text}', pedido {iteration}"
        return TargetReply(text=reply, messages=[reply], agent="balcao", latency_ms=1.0)

    def finish(self, session):
        pass

    def stats(self):
        return {}

    def close(self):
        pass


class OrderNumber:
    """A goal: the reply names order number `n`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.description = f"order {n}"

    def __call__(self, messages):
        text = messages if isinstance(messages, str) else " ".join(messages)
        return GoalHit(evidence=f"pedido {self.n}") if f"pedido {self.n}" in text else None


class Echo:
    """A simulated user that says its persona's fact, then counts."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona
        self.stop_reason = None

    def next_message(self, turns):
        return UserMessage(text=f"{self.persona.facts['item']} #{len(turns) + 1}")


class Seen(Hook):
    name = "seen"
    priority = "quality"

    def on_reply(self, ctx, turn, raw):
        ctx.report("seen", iteration=turn.iteration)


MARIA = Persona(name="Maria Code", description="built in code", facts={"item": "pão"})
CONFIG = "run: {conversations: 3, concurrency: 2, seed: 3}\nuser: {type: scripted}\nstore: {enabled: false}\n"


def test_every_extension_point_takes_an_object(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    report = convoload.run(
        str(config),
        runs_dir=tmp_path / "runs",
        target=Counter(),
        goal=OrderNumber(3),
        user=lambda persona, identity, session: Echo(persona),
        personas=[MARIA],
        hooks=[Seen()],
    )
    assert report.success_rate == 1.0 and report.summary.avg_iterations_to_goal == 3
    conversations = list(report.iter_conversations())
    assert [c.persona for c in conversations] == ["Maria Code"] * 3
    record = convoload.RunReport.read(report.run_dir)
    assert record.findings.by_hook["seen"].count == 9


def test_converse_plays_a_persona_object(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    record = convoload.converse(
        str(config),
        persona=MARIA,
        runs_dir=tmp_path / "runs",
        target=Counter(),
        goal=OrderNumber(2),
        user=lambda persona, identity, session: Echo(persona),
    )
    assert record.persona == "Maria Code" and record.goal_reached
    assert [t.user_text for t in record.turns] == ["pão #1", "pão #2"]
    assert record.turns[-1].goal_evidence == "pedido 2"
