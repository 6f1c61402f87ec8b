"""Whole runs through Locust's LocalRunner: the demo over webhooks, faulty targets, interruptions."""

import gc
import json
from datetime import UTC, datetime, timedelta

import gevent
import pytest

from convoload.config import Config
from convoload.events import ConversationStarted
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.load.heap import PACER
from convoload.model import utc_now
from convoload.report.rebuild import rebuild_run
from convoload.store.journal import read_journal
from convoload_demo.tickets.assistant import TicketAssistant


def make_config(tmp_path, **target):
    config = Config.model_validate(
        {
            "run": {
                "conversations": 6,
                "concurrency": 3,
                "seed": 5,
                "runs_dir": str(tmp_path / "runs"),
                "persona_assignment": "round_robin",
            },
            "target": target or {"type": "demo", "demo": {"reply_delay_s": 0.01, "jitter_s": 0.005}},
        }
    )
    return config


def run(config, conversations=None, concurrency=None, duration_s=None):
    context = RunContext(config)
    try:
        result = run_load(
            context,
            conversations or config.run.conversations,
            concurrency or config.run.concurrency,
            duration_s=duration_s,
        )
        return context, result, context.aggregate()
    finally:
        context.close()


@pytest.mark.e2e
def test_demo_over_webhooks_every_persona_buys_tickets(tmp_path):
    context, result, document = run(make_config(tmp_path))
    summary = document["summary"]
    assert summary["total_conversations"] == 6 and summary["successful_conversations"] == 6
    assert summary["success_rate"] == 1.0 and summary["errors_by_kind"] == {}
    assert set(document["personas"]) == {"Kataryna", "Talliz", "Edman"}
    assert document["latency"]["turn_ms"]["count"] == summary["total_turns"]
    assert document["latency"]["ack_ms"]["count"] == summary["total_turns"]
    assert document["run"]["target_stats"]["callbacks_accepted"] == summary["total_turns"]

    # records on disk: journal, one file per conversation, aggregate, run metadata
    run_dir = context.run_dir
    journal = read_journal(run_dir / "journal.jsonl")
    assert len(journal) == 6 and all(r.goal_reached for r in journal)
    files = sorted((run_dir / "conversations").glob("conversation_*.json"))
    assert len(files) == 6
    one = json.loads(files[0].read_text())
    assert one["summary"]["found_link"] is True and one["summary"]["iterations"] == len(one["turns"])
    assert {m["role"] for m in one["messages"]} == {"user", "assistant"}
    assert all(m["latency_ms"] > 0 for m in one["messages"] if m["role"] == "assistant")
    assert json.loads((run_dir / "aggregate.json").read_text())["summary"] == summary

    # hook findings travel with the records and into the aggregate
    by_hook = document["findings"]["by_hook"]
    assert by_hook["agent_transitions"]["conversations"] == 6 and by_hook["price_discussions"]["count"] > 0
    assert sum(len(r.findings) for r in journal) == document["findings"]["total"]
    assert any(f["hook"] == "agent_transitions" for f in one["findings"])

    # Locust saw every turn, callback and conversation, named by persona
    entries = {(e.method, e.name): e for e in result.stats.entries.values()}
    for persona in ("Kataryna", "Talliz", "Edman"):
        assert entries[("CONVERSATION", persona)].num_requests == 2
        assert entries[("CONVERSATION", persona)].num_failures == 0
        assert entries[("MESSAGE", persona)].num_requests == entries[("WEBHOOK", persona)].num_requests
    assert sum(e.num_requests for (m, _), e in entries.items() if m == "MESSAGE") == summary["total_turns"]


@pytest.mark.e2e
def test_report_rebuilds_everything_from_the_journal(tmp_path):
    context, _, document = run(make_config(tmp_path))
    (context.run_dir / "aggregate.json").unlink()
    for path in (context.run_dir / "conversations").iterdir():
        path.unlink()
    rebuilt = rebuild_run(context.run_dir)
    assert rebuilt["summary"] == document["summary"]
    assert rebuilt["latency"] == document["latency"]
    assert len(list((context.run_dir / "conversations").iterdir())) == 6


class FaultyAgent:
    """A real HTTP agent that answers correctly except for a fault on chosen requests."""

    def __init__(self):
        self.assistant = TicketAssistant()
        self.count = 0

    def __call__(self, environ, body):
        self.count += 1
        request = json.loads(body)
        fault = self.count % 6
        if fault == 1 and self.count > 6:
            return 500, {"error": "internal"}
        if fault == 2 and self.count > 6:
            return 200, "<html>oops</html>"
        if fault == 3 and self.count > 6:
            return 200, {"reply": ""}
        if fault == 4 and self.count > 6:
            gevent.sleep(1)  # slower than the client's timeout
        reply = self.assistant.reply(request["session_id"], request["text"])
        return 200, {"reply": "\n\n".join(reply.messages), "agent": reply.agent}


def test_faulty_target_errors_are_classified_and_the_run_completes(tmp_path, local_app):
    app = local_app(FaultyAgent())
    config = make_config(tmp_path, type="http", url=f"{app.url}/v1/chat", timeout_s=0.3)
    _, result, document = run(config, conversations=12, concurrency=4)
    summary = document["summary"]
    assert summary["total_conversations"] == 12
    errors = summary["errors_by_kind"]
    assert {"http_status", "malformed_reply", "empty_reply", "timeout"} <= set(errors)
    assert summary["failed_conversations"] == sum(errors.values())
    assert summary["successful_conversations"] + summary["failed_conversations"] == 12
    failed = [c for c in document["conversations"] if c["outcome"] == "error"]
    assert all(c["error"]["kind"] in errors and c["error"]["message"] for c in failed)
    locust_failures = {str(e.error) for e in result.stats.errors.values()}
    assert any("http_status 500" in f for f in locust_failures)
    assert any("error: timeout" in f for f in locust_failures)


def test_connection_refused_is_counted(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = make_config(tmp_path, type="http", url=f"http://127.0.0.1:{port}/chat")
    _, _, document = run(config, conversations=3, concurrency=3)
    assert document["summary"]["errors_by_kind"] == {"connection_refused": 3}


def slow_agent(text, session, iteration):
    gevent.sleep(30)  # an agent that never answers within the test
    return "too late"


def test_conversations_cut_off_are_interrupted_never_successes(tmp_path):
    config = make_config(tmp_path, type="python", function="tests.test_run:slow_agent")
    context, result, document = run(config, conversations=4, concurrency=4, duration_s=0.3)
    assert result.interrupted
    summary = document["summary"]
    assert summary["interrupted_conversations"] == 4 and summary["successful_conversations"] == 0
    assert [r.outcome.value for r in read_journal(context.run_dir / "journal.jsonl")] == ["interrupted"] * 4
    entries = {(e.method, e.name): e for e in result.stats.entries.values()}
    conversations = [e for (m, _), e in entries.items() if m == "CONVERSATION"]
    assert sum(e.num_failures for e in conversations) == 4
    assert {str(e.error) for e in result.stats.errors.values()} == {"interrupted"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "goal",
    [
        {"type": "regex", "pattern": r"pay\.example\.com/pix/\w+"},
        {"type": "python", "function": "tests.test_run:has_order"},
    ],
)
def test_other_goal_detectors(tmp_path, goal):
    config = make_config(tmp_path).model_copy(update={"goal": Config.model_validate({"goal": goal}).goal})
    _, _, document = run(config, conversations=3, concurrency=3)
    assert document["summary"]["successful_conversations"] == 3


def has_order(reply: str) -> bool:
    return "Pedido" in reply and "https://" in reply


@pytest.mark.e2e
def test_the_ticket_agent_in_split_mode_pays_in_the_same_turn_without_a_quiet_period(tmp_path):
    # One callback per message (summary, then the link), `final: false` on all but the last: with the
    # default quiet period of 0 the turn waits for the final one, so no piece is `late` and no
    # conversation needs an extra turn for its link.
    demo = {"reply_delay_s": 0.01, "jitter_s": 0.005, "split_messages": True}
    context, _, document = run(make_config(tmp_path, type="demo", demo=demo))
    summary = document["summary"]
    assert summary["successful_conversations"] == 6 and summary["errors_by_kind"] == {}
    stats = document["run"]["target_stats"]
    assert stats.get("callbacks_late", 0) == 0 and stats["callbacks_accepted"] > summary["total_turns"]
    for record in read_journal(context.run_dir / "journal.jsonl"):
        last = record.turns[-1]
        assert last.goal_evidence is not None and last.goal_evidence.startswith("https://")
        assert last.goal_evidence in last.reply_messages[-1] and len(last.reply_messages) == 2
        assert not any(t.goal_evidence for t in record.turns[:-1])


def test_utc_now_is_iso_8601_utc_to_the_millisecond():
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(milliseconds=1)
    stamp = utc_now()
    after = datetime.now(UTC)
    assert len(stamp) == 24 and stamp.endswith("Z")
    assert before <= datetime.fromisoformat(stamp) <= after


@pytest.mark.e2e
def test_a_run_paces_the_collector_while_conversations_run_and_hands_it_back(tmp_path):
    seen: list[tuple[bool, bool, int]] = []
    context = RunContext(make_config(tmp_path))
    context.bus.subscribe(
        ConversationStarted, lambda _e: seen.append((gc.isenabled(), PACER.pacing, gc.get_freeze_count()))
    )
    try:
        run_load(context, 3, 3)
    finally:
        context.close()
    assert len(seen) == 3
    # During the run: no collection by allocation count, the pacer at work, the start-up heap frozen.
    assert all(not enabled and pacing and frozen > 0 for enabled, pacing, frozen in seen)
    assert gc.isenabled() and not PACER.pacing and gc.get_freeze_count() == 0
