"""Cost per successful conversation: simulator + judge + agent-reported cost over the goals reached, in
the aggregate, the typed report, the console, report.html, the store, `runs compare` and the monitor."""

from __future__ import annotations

import io
import json

import gevent
import httpx
import pytest
from rich.console import Console

from convoload.config import Config
from convoload.conversation.goals import LinkGoal
from convoload.conversation.loop import run_conversation
from convoload.events import EventBus
from convoload.identity import IdentityFactory
from convoload.load.wiring import build_target
from convoload.model import ConversationRecord, Outcome, TurnRecord, Usage
from convoload.model.report import RunReport
from convoload.monitor.catalog import CATALOG
from convoload.monitor.window import ConversationWindow
from convoload.report.aggregate import JUDGE_ROLE, Aggregator, aggregate
from convoload.report.console import print_summary
from convoload.report.html import render_html
from convoload.store.results.compare import compare_runs
from convoload.store.results.stats import RunRow
from convoload.targets.base import Session
from convoload.targets.http import HttpTarget
from convoload.targets.python import PythonTarget
from convoload.targets.receiver import WebhookReceiver
from convoload.targets.webhook import WebhookTarget
from convoload.users.fixed import FixedUser


def record(session: str, outcome: Outcome, cost: float, agent_cost: float = 0.0) -> ConversationRecord:
    turn = TurnRecord(
        iteration=1, user_text="oi", sent_at="t", reply_text="olá", latency_ms=100.0, agent="lia"
    )
    return ConversationRecord(
        run_id="r",
        session_id=session,
        user_id=1,
        persona="talliz",
        started_at="t",
        outcome=outcome,
        turns=[turn],
        usage=Usage(cost_usd=cost, llm_calls=1),
        agent_cost_usd=agent_cost,
    )


def three_conversations() -> Aggregator:
    aggregator = Aggregator()
    aggregator.add(record("a", Outcome.GOAL_REACHED, 0.001, agent_cost=0.002))
    aggregator.add(record("b", Outcome.GOAL_REACHED, 0.003))
    aggregator.add(record("c", Outcome.MAX_ITERATIONS, 0.002, agent_cost=0.001))
    return aggregator


def test_cost_per_success_sums_simulator_judge_and_agent_over_goals() -> None:
    aggregator = three_conversations()
    summary = aggregator.document()["summary"]
    # No judge call recorded: its part is zero.
    assert summary["simulator_cost_usd"] == 0.006 and summary["judge_cost_usd"] == 0.0
    assert summary["agent_cost_usd"] == 0.003
    assert summary["cost_per_success_usd"] == pytest.approx(0.0045)

    aggregator.add_llm_call("local/judge", latency_ms=50.0, cost_usd=0.004, role=JUDGE_ROLE)
    aggregator.add_llm_call("local/judge", latency_ms=50.0, cost_usd=0.5, from_cache=True, role=JUDGE_ROLE)
    aggregator.add_llm_call("local/persona", latency_ms=20.0, cost_usd=0.0)  # a simulated user's call
    summary = aggregator.document()["summary"]
    assert summary["judge_cost_usd"] == 0.004  # a replayed judgement costs nothing
    assert summary["cost_per_success_usd"] == pytest.approx((0.006 + 0.004 + 0.003) / 2)
    # Judge calls stay out of the simulated users' LLM tables.
    assert list(summary["llm"]["by_provider"]) == ["local/persona"]
    assert summary["total_cost_usd"] == 0.006


def test_judge_cost_travels_from_a_worker_to_its_master() -> None:
    worker = Aggregator(record_entries=True)
    worker.add(record("a", Outcome.GOAL_REACHED, 0.001))
    worker.add_llm_call("local/judge", latency_ms=50.0, cost_usd=0.002, role=JUDGE_ROLE)
    worker.add_llm_call("local/persona", latency_ms=20.0, cost_usd=0.001)
    entries = json.loads(json.dumps(worker.take_entries()))  # as they travel
    assert "role" not in entries[2][1]  # a simulated user's call keeps the entry shape it had
    master = Aggregator()
    master.apply(entries)
    assert master.document()["summary"] == worker.document()["summary"]
    assert master.document()["summary"]["judge_cost_usd"] == 0.002
    with pytest.raises(ValueError, match="unknown LLM call role"):
        master.add_llm_call("x/y", latency_ms=1.0, role="critic")


def test_no_goal_reached_means_no_cost_per_success() -> None:
    summary = aggregate([record("a", Outcome.MAX_ITERATIONS, 0.001)])["summary"]
    assert summary["cost_per_success_usd"] is None
    report = RunReport.from_document(aggregate([record("a", Outcome.MAX_ITERATIONS, 0.001)]))
    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), report)
    assert "per success" not in out.getvalue()


def test_the_agents_reported_cost_is_counted_from_a_python_target() -> None:
    def agent(text, session, iteration):
        reply = "https://pay.example.com/x" if iteration == 2 else "e aí?"
        return {"text": reply, "agent": "lia", "cost_usd": 0.0015}

    identity = IdentityFactory(1).identity(0)
    done = run_conversation(
        run_id="r",
        session=Session("s", 1, "talliz", identity),
        user=FixedUser(["oi", "quero pagar"]),
        target=PythonTarget(agent),
        goal=LinkGoal(),
        bus=EventBus(),
    )
    assert done.outcome == Outcome.GOAL_REACHED and done.agent_cost_usd == pytest.approx(0.003)
    assert done.summary()["agent_cost_usd"] == 0.003
    again = ConversationRecord.from_document(json.loads(done.to_json()))
    assert again.agent_cost_usd == 0.003
    summary = aggregate([done])["summary"]
    assert summary["agent_cost_usd"] == 0.003 and summary["cost_per_success_usd"] == 0.003
    # A conversation whose agent reports nothing keeps the summary earlier versions wrote.
    assert "agent_cost_usd" not in record("b", Outcome.GOAL_REACHED, 0.0).summary()


def test_console_and_html_show_cost_per_success_and_its_parts() -> None:
    aggregator = three_conversations()
    aggregator.add_llm_call("local/judge", latency_ms=50.0, cost_usd=0.004, role=JUDGE_ROLE)
    document = aggregator.document()
    report = RunReport.from_document(document)
    assert report.summary.cost_per_success_usd == pytest.approx(0.0065)
    assert report.to_document() == document  # the typed view writes the same document back
    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), report)
    line = next(x for x in out.getvalue().splitlines() if "per success" in x)
    assert "US$ 0.006500" in line and "judge US$ 0.004000" in line and "agent US$ 0.003000" in line
    html = render_html(report, [])
    assert 'data-kpi="cost-per-success"' in html
    assert "US$ 0.0065" in html and "judge US$ 0.004" in html and "agent US$ 0.003" in html


def test_an_aggregate_written_before_these_fields_reads_back_byte_for_byte() -> None:
    document = aggregate([record("a", Outcome.GOAL_REACHED, 0.001)])
    for key in (
        "simulator_cost_usd",
        "judge_cost_usd",
        "agent_cost_usd",
        "cost_per_success_usd",
        "simulator_errors",
        "simulator_faults",
    ):
        del document["summary"][key]
    text = json.dumps(document, ensure_ascii=False, indent=2)
    report = RunReport.from_document(json.loads(text))
    assert json.dumps(report.to_document(), ensure_ascii=False, indent=2) == text
    assert report.summary.cost_per_success_usd is None and report.summary.simulator_errors == 0


def _row(cost_per_success: float | None, **values) -> RunRow:
    base = {
        "run_id": "r",
        "started_at": "t",
        "finished_at": None,
        "status": "finished",
        "conversations": 100,
        "successful": 50,
        "failed": 0,
        "success_rate": 0.5,
        "error_rate": 0.0,
        "turn_p50_ms": 100.0,
        "turn_p95_ms": 200.0,
        "conversation_p95_ms": 1000.0,
        "cost_usd": 1.0,
        "summary": None if cost_per_success is None else {"cost_per_success_usd": cost_per_success},
    }
    return RunRow(**{**base, **values})


@pytest.mark.parametrize(
    ("a", "b", "regressed"),
    [(0.02, 0.022, False), (0.02, 0.0221, True), (0.02, 0.01, False)],  # +10 % exactly is not yet one
)
def test_runs_compare_flags_a_cost_per_success_rise_above_10_percent(a, b, regressed) -> None:
    metric = compare_runs(_row(a), _row(b)).metric("cost per success")
    assert (metric.a, metric.b, metric.regression) == (a, b, regressed)


def test_runs_stored_before_the_field_compare_on_the_simulators_cost_per_goal() -> None:
    old = _row(None)  # summary without cost_per_success_usd: US$ 1.00 over 50 goals
    assert old.cost_per_success == 0.02
    assert _row(None, successful=0).cost_per_success is None
    assert compare_runs(old, _row(0.03)).metric("cost per success").regression


def test_the_monitor_exports_cost_per_success_over_its_window() -> None:
    assert CATALOG["convoload_cost_per_success_usd"].kind == "gauge"
    assert CATALOG["convoload_simulator_errors_total"].labels == ("fault",)
    window = ConversationWindow(900, clock=lambda: 1000.0)
    window.add(record("a", Outcome.GOAL_REACHED, 0.001, agent_cost=0.002))
    window.add(record("b", Outcome.MAX_ITERATIONS, 0.003))
    assert window.metrics().cost_per_success_usd == pytest.approx(0.006)
    empty = ConversationWindow(900, clock=lambda: 1000.0)
    empty.add(record("c", Outcome.MAX_ITERATIONS, 0.003))
    assert empty.metrics().cost_per_success_usd is None


def test_http_targets_read_the_agents_cost_from_cost_path(local_app, session) -> None:
    costs = iter([0.0025, "0.001", None, -1, True, "n/a"])

    def handler(environ, body):
        cost = next(costs, 0.5)
        return 200, {"reply": "olá", "usage": {} if cost is None else {"cost_usd": cost}}

    app = local_app(handler)
    target = HttpTarget(app.url, cost_path="usage.cost_usd")
    got = [target.send(session, "oi", n).cost_usd for n in range(1, 7)]
    # A number (or a numeric string) counts; missing, negative or odd values are no cost, never a fault.
    assert got == [0.0025, 0.001, None, None, None, None]
    assert HttpTarget(app.url).send(session, "oi", 1).cost_usd is None  # no cost_path: nothing read
    target.close()


def test_webhook_targets_read_the_agents_cost_from_their_callback(local_app, session) -> None:
    def callback(url: str) -> None:
        httpx.post(url, json={"messageId": "m1", "text": "olá", "agent": "lia", "billing": {"usd": 0.004}})

    def handler(environ, body):
        gevent.spawn(callback, json.loads(body)["webhook"])
        return 202, {"status": "queued"}

    app = local_app(handler)
    target = WebhookTarget(app.url, WebhookReceiver().start(), reply_timeout_s=10, cost_path="billing.usd")
    reply = target.send(session, "oi", 1)
    assert reply.text == "olá" and reply.cost_usd == 0.004
    target.close()


def test_the_target_config_takes_cost_path() -> None:
    config = Config.model_validate(
        {"target": {"type": "http", "url": "http://127.0.0.1:9/chat", "cost_path": "usage.cost"}}
    )
    assert config.target.cost_path == "usage.cost"
    target = build_target(config)
    assert isinstance(target, HttpTarget) and target.cost_path == "usage.cost"
    target.close()
