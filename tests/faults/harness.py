"""Small real runs against the faulty target, and the contract every fault must keep.

The contract: the run completes; the fault is counted in its own category (aggregate.json, Locust's
statistics, the console summary, report.html); the conversations it hit are recorded as failed with
that reason in the journal and in their own files; the other conversations of the same run reached the
goal; and the journal holds exactly one record per conversation run.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust.stats import RequestStats
from rich.console import Console

from convoload.config import Config
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.model import ConversationRecord, Outcome
from convoload.report.console import print_summary
from convoload.report.html import write_html_report
from convoload.store.journal import read_journal
from convoload_demo.faulty import FaultyServer

GOAL_TURN = 3  # the faulty target's healthy replies carry the payment link from this turn on
SCRIPT = ["oi, quero comprar ingressos", "2 adultos", "pix", "obrigado", "tchau"]
SHORT_S = 1.0  # every client-side timeout of these runs

# The second turn of every second conversation breaks: its first, healthy turn stays on record.
EVERY_SECOND = {"every": 2, "turn": 2}


def chat_target(faulty: FaultyServer, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "url": faulty.chat_url,
        "body": {"session_id": "{session_id}", "message": "{text}"},
        "reply_path": "reply",
        "agent_path": "agent",
        "timeout_s": SHORT_S,
        "connect_timeout_s": SHORT_S,
        **overrides,
    }


def webhook_target(faulty: FaultyServer, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "url": faulty.widget_url,
        "preset": "widget",
        "variables": {"channel_id": "fault-suite"},
        "timeout_s": SHORT_S,
        "ack_timeout_s": SHORT_S,
        "connect_timeout_s": SHORT_S,
        **overrides,
    }


# RunContext builds an LLM chain for every user type but `scripted`, fixed users included, and without
# providers it starts a local LLM server (~1 s) and opens a cache in the working directory. A provider
# that is never called, and no cache, keep these runs fast and the repository clean.
UNUSED_LLM = {
    "providers": [{"name": "unused", "model": "unused", "base_url": "http://127.0.0.1:9/v1"}],
    "cache_path": None,
}


def make_config(tmp_path: Path, target: dict[str, Any], **sections: Any) -> Config:
    """A fixed-script run (deterministic users) unless `sections` says otherwise (e.g. an LLM user)."""
    document: dict[str, Any] = {
        "llm": UNUSED_LLM,
        "run": {
            "seed": 11,
            "max_iterations": len(SCRIPT),
            "runs_dir": str(tmp_path / "runs"),
            "persona_assignment": "round_robin",
        },
        "user": {"type": "fixed", "scripts": [SCRIPT]},
        "target": target,
        **sections,
    }
    return Config.model_validate(document)


@dataclass
class FaultRun:
    run_dir: Path
    aggregate: dict[str, Any]  # as written to aggregate.json
    journal: list[ConversationRecord]
    files: dict[str, dict[str, Any]]  # session id -> its conversation file
    server: dict[str, Any]  # the faulty target's stats, once every callback it owed was answered
    console: str
    html: str
    locust: RequestStats
    conversations: int

    @property
    def summary(self) -> dict[str, Any]:
        return self.aggregate["summary"]

    @property
    def target_stats(self) -> dict[str, int]:
        return self.aggregate["run"]["target_stats"]

    def by_session(self) -> dict[str, ConversationRecord]:
        return {r.session_id: r for r in self.journal}

    def failed(self) -> dict[str, ConversationRecord]:
        return {r.session_id: r for r in self.journal if r.outcome == Outcome.ERROR}

    def injected(self, kind: str) -> dict[str, dict[str, Any]]:
        """The faulty target's own record of what it broke: session id -> injection."""
        return {i["session_id"]: i for i in self.server["injections"] if i["kind"] == kind}

    def locust_failures(self, request_type: str) -> dict[str, int]:
        """Locust's error table for one request type: error text -> occurrences."""
        out: dict[str, int] = {}
        for entry in self.locust.errors.values():
            if entry.method == request_type:
                out[str(entry.error)] = out.get(str(entry.error), 0) + entry.occurrences
        return out


def run_faults(
    config: Config, conversations: int, concurrency: int, faulty: FaultyServer | None = None
) -> FaultRun:
    """One real run (Locust's LocalRunner), then the records and reports it left behind."""
    context = RunContext(config)
    try:
        result = run_load(context, conversations, concurrency)
        # Callbacks the target still owes (late, duplicate) must reach our receiver before the counters
        # are read; flush waits for their answers, so this is an event, not a sleep.
        server = faulty.flush() if faulty is not None else {}
        document = context.aggregate()
    finally:
        context.close()
    run_dir = context.run_dir
    console = Console(record=True, width=240, file=io.StringIO())
    print_summary(console, document, result.stats)
    html = write_html_report(run_dir).read_text(encoding="utf-8")
    files = {}
    for path in sorted((run_dir / "conversations").glob("conversation_*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        files[doc["summary"]["session_id"]] = doc
    return FaultRun(
        run_dir=run_dir,
        aggregate=json.loads((run_dir / "aggregate.json").read_text(encoding="utf-8")),
        journal=read_journal(run_dir / "journal.jsonl"),
        files=files,
        server=server,
        console=console.export_text(),
        html=html,
        locust=result.stats,
        conversations=conversations,
    )


# -- the contract ---------------------------------------------------------------------------------------


def assert_nothing_lost(run: FaultRun) -> None:
    """One journal line, one file and one aggregate entry per conversation run, for the same sessions."""
    sessions = [r.session_id for r in run.journal]
    assert len(sessions) == run.conversations == len(set(sessions))
    assert set(run.files) == set(sessions)
    assert run.summary["total_conversations"] == run.conversations
    assert {c["session_id"] for c in run.aggregate["conversations"]} == set(sessions)
    assert not any(r.outcome == Outcome.INTERRUPTED for r in run.journal)
    conversation_rows = sum(e.num_requests for e in run.locust.entries.values() if e.method == "CONVERSATION")
    assert conversation_rows == run.conversations


def assert_reached_goal(run: FaultRun, sessions: set[str]) -> None:
    records = run.by_session()
    for session in sessions:
        record = records[session]
        assert record.outcome == Outcome.GOAL_REACHED, (record.outcome, record.error)
        assert record.iterations == GOAL_TURN and "pay.example.com/pix/" in (
            record.turns[-1].reply_text or ""
        )
        assert all(t.error is None for t in record.turns)
        assert run.files[session]["summary"]["goal_reached"] is True


def assert_failed_with(
    run: FaultRun,
    sessions: set[str],
    kind: str,
    *,
    status_code: int | None = None,
    text: str = "",
    turn_failed: bool = True,
) -> None:
    """These sessions, and only these, failed with `kind`, in the journal and in their files.

    `turn_failed`: the target broke a turn (which then says why); False when the simulated user failed
    before sending anything (an LLM error), so no turn carries the error.
    """
    failed = run.failed()
    assert set(failed) == sessions
    for session, record in failed.items():
        assert record.error is not None and record.error.kind.value == kind, record.error
        assert text in record.error.message
        assert record.error.status_code == status_code
        document = run.files[session]
        assert document["summary"]["outcome"] == "error"
        assert (
            document["summary"]["error"]["kind"] == kind and text in document["summary"]["error"]["message"]
        )
        if turn_failed:
            assert record.turns and record.turns[-1].error == record.error
            last = document["messages"][-1]
            assert last["role"] == "error" and last["kind"] == kind and last["status_code"] == status_code
        else:
            assert all(t.error is None for t in record.turns)


def assert_counted(run: FaultRun, kind: str, count: int) -> None:
    """`count` conversations failed with `kind`: in aggregate.json, Locust's stats, the console, the page."""
    assert run.summary["errors_by_kind"] == {kind: count}
    assert run.summary["failed_conversations"] == count
    assert run.summary["successful_conversations"] == run.conversations - count
    failures = run.locust_failures("CONVERSATION")
    assert sum(failures.values()) == count and all(f"error: {kind}" in text for text in failures)
    assert f"{kind}: {count}" in run.console
    assert run.html.count(f"· error {kind}: ") == count


def assert_fault_contract(
    run: FaultRun, fault: str, kind: str, *, status_code: int | None = None, text: str = ""
) -> set[str]:
    """The whole contract for a fault that ends the turn it hits; returns the sessions it hit."""
    assert_nothing_lost(run)
    hit = set(run.injected(fault))
    assert 0 < len(hit) < run.conversations, "a fault run needs both faulty and healthy conversations"
    assert run.server["injected"] == {fault: len(hit)}
    assert_failed_with(run, hit, kind, status_code=status_code, text=text)
    assert_counted(run, kind, len(hit))
    assert_reached_goal(run, set(run.by_session()) - hit)
    return hit
