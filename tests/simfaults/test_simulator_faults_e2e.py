"""Simulator faults end to end: the bundled local provider (a real subprocess, over HTTP, through the
real openai client) produces each fault on demand; convoload retries it once, then classifies the
conversation `simulator_error`, counted apart and never against the agent's goal rate or grade."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from convoload.config import Config
from convoload.conversation.goals import LinkGoal
from convoload.conversation.loop import run_conversation
from convoload.events import EventBus
from convoload.identity import IdentityFactory
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.model import ConversationRecord, ErrorKind, Outcome, SimulatorFault
from convoload.model.report import RunReport
from convoload.monitor.window import ConversationWindow
from convoload.personas import builtin_personas
from convoload.report.aggregate import aggregate
from convoload.report.console import print_summary
from convoload.report.grading import assess_report
from convoload.report.html import write_html_report
from convoload.store.results import ResultsStore
from convoload.targets.base import Session
from convoload.targets.python import PythonTarget
from convoload.users.llm import START, LLMSettings, LLMUser
from convoload_demo.llmserver.launcher import LocalLLMServer
from convoload_demo.tickets.assistant import TicketAssistant

pytestmark = pytest.mark.e2e

KEY = "sk-convoload-simfaults-7c1d"
KINDS = [fault.value for fault in SimulatorFault]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOLOAD_TEST_LLM_KEY", KEY)


def llm_settings(server: LocalLLMServer) -> LLMSettings:
    spec = ProviderSpec(
        name="gemini",
        base_url=server.base_url,
        model="gemini-2.5-flash",
        api_key_env="CONVOLOAD_TEST_LLM_KEY",
    )
    chain = ProviderChain([ProviderClient(spec, shipped_prices())], policy=RetryPolicy(retries=0))
    return LLMSettings(chain=chain, retries=1)


def converse(
    server: LocalLLMServer, index: int, persona: str = "talliz"
) -> tuple[ConversationRecord, LLMUser]:
    assistant = TicketAssistant()

    def agent(text, session, iteration):
        return {"text": assistant.reply(session.session_id, text).messages, "agent": "lia"}

    identity = IdentityFactory(5).identity(index)
    session = Session(f"s{index}", index + 1, persona, identity)
    user = LLMUser(builtin_personas()[persona], identity, llm_settings(server), session_id=session.session_id)
    record = run_conversation(
        run_id="t", session=session, user=user, target=PythonTarget(agent), goal=LinkGoal(), bus=EventBus()
    )
    return record, user


@pytest.mark.parametrize("kind", KINDS)
def test_a_persistent_fault_is_retried_once_then_classified_apart(kind: str) -> None:
    # The first answer and its retry are faulty; every later conversation is served normally.
    with LocalLLMServer({"api_key": KEY, "sim_fault": kind, "sim_fault_on": [1, 2]}) as server:
        faulty, _ = converse(server, 0)
        asked = server.requests()
        healthy = [converse(server, i)[0] for i in (1, 2)]

    assert faulty.outcome == Outcome.SIMULATOR_ERROR, faulty.error
    assert faulty.simulator_fault == SimulatorFault(kind)
    assert (
        faulty.error is not None and faulty.error.kind == ErrorKind.SIMULATOR and kind in faulty.error.message
    )
    assert faulty.turns == []  # nothing faulty ever reached the agent
    # Retried exactly once: two calls, the second one saying what was wrong; both paid for.
    assert len(asked) == 2 and [r["sim_fault"] for r in asked] == [kind, kind]
    assert asked[0]["messages"][-1] == {"role": "user", "content": START}
    note = asked[1]["messages"][-1]
    assert note["role"] == "system" and "rejected" in note["content"] and kind in note["content"]
    assert asked[1]["messages"][:-1] == asked[0]["messages"]
    if kind == "empty":  # the provider client reports an empty answer as a failed call, without usage
        assert faulty.usage.llm_calls == 0
    else:
        assert faulty.usage.llm_calls == 2 and faulty.usage.cost_usd > 0
    assert all(r.outcome == Outcome.GOAL_REACHED for r in healthy)

    document = aggregate([faulty, *healthy])
    summary = document["summary"]
    assert summary["simulator_errors"] == 1 and summary["simulator_faults"] == {kind: 1}
    assert summary["outcomes"]["simulator_error"] == 1
    # Not the agent's: out of the goal rate, the failed conversations and the errors.
    assert summary["success_rate"] == 1.0 and summary["success_rate_pct"] == "100.00%"
    assert summary["failed_conversations"] == 0 and summary["errors_by_kind"] == {}
    assert document["requests"]["CONVERSATION"]["all"]["failures"] == 0
    assert document["personas"]["talliz"]["success_rate"] == 1.0
    verdict = assess_report(document)
    assert verdict.grade == assess_report(aggregate(healthy)).grade and verdict.success_rate == 1.0
    assert any("simulator fault" in line and kind in line for line in verdict.recommendations)
    # The journal's document reads back with its fault.
    again = ConversationRecord.from_document(json.loads(faulty.to_json()))
    assert again.simulator_fault == SimulatorFault(kind) and again.outcome == Outcome.SIMULATOR_ERROR


def test_a_transient_fault_is_recovered_by_the_retry() -> None:
    with LocalLLMServer({"api_key": KEY, "sim_fault": "role_leak", "sim_fault_on": [1]}) as server:
        record, user = converse(server, 0)
        asked = server.requests()
    assert record.outcome == Outcome.GOAL_REACHED and record.simulator_fault is None
    assert [check.fault for check in user.retried_faults] == [SimulatorFault.ROLE_LEAK]
    assert "Assistente" not in record.turns[0].user_text  # the retry's message went out, not the leak
    assert asked[0]["sim_fault"] == "role_leak" and asked[1].get("sim_fault") is None
    # One extra call on the first turn, counted in its usage.
    assert record.turns[0].usage.llm_calls == 2
    assert record.usage.llm_calls == len(asked) == record.iterations + 1


def test_a_run_counts_simulator_errors_apart_in_summary_console_html_store_and_monitor(
    tmp_path: Path,
) -> None:
    with LocalLLMServer({"api_key": KEY, "sim_fault": "identity_drift", "sim_fault_on": [1, 2]}) as server:
        config = Config.model_validate(
            {
                "run": {"seed": 3, "runs_dir": str(tmp_path / "runs"), "persona_assignment": "round_robin"},
                "user": {"type": "llm"},
                "llm": {
                    "cache_path": str(tmp_path / "llm-cache.sqlite"),  # not the checkout's default
                    "providers": [
                        {
                            "name": "gemini",
                            "model": "gemini-2.5-flash",
                            "base_url": server.base_url,
                            "api_key_env": "CONVOLOAD_TEST_LLM_KEY",
                        }
                    ],
                },
                "target": {"type": "python", "function": "convoload_demo.tickets.inprocess:reply"},
            }
        )
        context = RunContext(config)
        try:
            run_load(context, 3, 1)  # one at a time: the first conversation gets the faults
            document = context.aggregate()
            run_dir = context.run_dir
        finally:
            context.close()

    summary = document["summary"]
    assert summary["total_conversations"] == 3 and summary["simulator_errors"] == 1
    assert summary["simulator_faults"] == {"identity_drift": 1}
    assert summary["successful_conversations"] == 2 and summary["success_rate"] == 1.0
    report = RunReport.read(run_dir)
    assert report.summary.simulator_errors == 1 and report.success_rate == 1.0
    assert report.assessment is not None and report.assessment.success_rate == 1.0

    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), report)
    text = out.getvalue()
    assert "simulator errors" in text and "identity_drift: 1" in text and "not the agent's" in text

    html = write_html_report(run_dir).read_text(encoding="utf-8")
    assert 'data-kpi="simulator-errors"' in html and "identity_drift 1" in html
    assert "dot-simulator_error" in html
    # The success-by-persona chart shows it apart and leaves it out of the persona's percentage.
    assert "simulator error" in html and ">100%<" in html

    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as store:
        row = store.require_run(report.run_id)
        stored = store.conversations(report.run_id)
    assert row.simulator_errors == 1 and row.success_rate == 1.0 and row.error_rate == 0.0
    assert row.summary is not None and row.summary["simulator_faults"] == {"identity_drift": 1}
    faulty = [c for c in stored if c.outcome == Outcome.SIMULATOR_ERROR]
    assert [c.simulator_fault for c in faulty] == [SimulatorFault.IDENTITY_DRIFT]

    window = ConversationWindow(60)
    for record in stored:
        window.add(record)
    assert window.metrics().success_rate == 1.0 and window.metrics().conversations == 2
    assert window.totals.simulator_faults == {"identity_drift": 1}
