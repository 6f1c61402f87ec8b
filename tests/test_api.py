"""The Python API: `convoload.run`, `stress` and `converse` with objects for the extension points, typed
results that read back what was written, keywords checked like flags, and a public surface that is
cheap to import. The example of the docs' "From Python" page runs as written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import convoload
from convoload import ConfigError, ConversationRecord, Hook, RunReport, StopRequest, TargetReply
from convoload.events import ConversationFinished
from convoload.users.fixed import FixedUser
from tests.helpers import REPO, docs_blocks


class Counter:
    """A python-object target: replies with a payment link on the `goal_at`-th turn, counts what it saw."""

    kind = "counter"

    def __init__(self, goal_at: int = 2) -> None:
        self.goal_at = goal_at
        self.sent: list[str] = []
        self.finished = 0
        self.closed = False

    def send(self, session, text, iteration):
        self.sent.append(text)
        if iteration >= self.goal_at:
            reply = f"Pronto: https://pay.example.com/{session.session_id}"
        else:
            reply = "Certo, e o que mais?"
        return TargetReply(text=reply, messages=[reply], agent="caixa", latency_ms=2.0)

    def finish(self, session):
        self.finished += 1

    def stats(self):
        return {"seen": len(self.sent)}

    def close(self):
        self.closed = True


class EveryReply(Hook):
    name = "every_reply"
    priority = "quality"

    def on_reply(self, ctx, turn, raw):
        ctx.report(f"reply {turn.iteration}", iteration=turn.iteration)


def test_run_with_a_target_object_a_hook_and_a_user_factory(tmp_path: Path) -> None:
    target = Counter(goal_at=3)
    made: list[str] = []

    def user(persona, identity, session):
        made.append(persona.name)
        return FixedUser(["oi", "quero dois", "pode fechar", "mais uma coisa"])

    events: list[ConversationFinished] = []
    report = convoload.run(
        conversations=4,
        concurrency=2,
        seed=11,
        runs_dir=tmp_path,
        target=target,
        hooks=[EveryReply()],
        user=user,
        on_event=lambda e: events.append(e) if isinstance(e, ConversationFinished) else None,
    )
    assert isinstance(report, RunReport)
    assert report.summary.total_conversations == 4 and report.success_rate == 1.0
    assert report.summary.avg_iterations_to_goal == 3
    assert target.sent.count("oi") == 4 and "mais uma coisa" not in target.sent
    assert target.finished == 4 and target.closed  # the run frees and closes what it was given
    assert len(made) == 4 and len(events) == 4
    assert report.findings.by_hook["every_reply"].count == 12
    assert report.run.target is not None and report.run.target.type == "counter"
    # The typed report is the file: what was written reads back the same. Its conversations stay on
    # disk (a long run's would fill memory) and are read from the journal on demand.
    written = json.loads((report.run_dir / "aggregate.json").read_text(encoding="utf-8"))
    assert report.conversations == [] and len(written["conversations"]) == 4
    assert [c.to_document() for c in report.iter_conversations()] == written.pop("conversations")
    assert report.to_document() == {**written, "conversations": []}
    read = RunReport.read(report.run_dir)
    assert read.summary == report.summary and list(read.iter_conversations()) == read.conversations


def test_keywords_are_checked_like_flags(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"conversations="):
        convoload.run(conversations=0, runs_dir=tmp_path, target=Counter())
    with pytest.raises(ConfigError, match=r"max_iterations="):
        convoload.converse(max_iterations=-1, runs_dir=tmp_path, target=Counter())
    with pytest.raises(ConfigError, match=r"profile="):
        convoload.stress(users=1, duration_s=1, profile="wave", runs_dir=tmp_path, target=Counter())
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


def test_converse_returns_the_whole_record(tmp_path: Path) -> None:
    record = convoload.converse(
        runs_dir=tmp_path,
        target=Counter(goal_at=2),
        user=lambda persona, identity, session: FixedUser(["bom dia", "fecha"]),
    )
    assert isinstance(record, ConversationRecord)
    assert [t.user_text for t in record.turns] == ["bom dia", "fecha"]
    assert record.goal_reached and record.turns[-1].agent == "caixa"


def test_a_stop_request_ends_the_run_with_its_records(tmp_path: Path) -> None:
    stop = StopRequest()
    finished: list[str] = []

    def on_event(event):
        if isinstance(event, ConversationFinished):
            finished.append(event.record.session_id)
            if len(finished) == 3:
                stop.set("the test")

    report = convoload.run(
        conversations=200,
        concurrency=1,
        runs_dir=tmp_path,
        target=Counter(),
        user=lambda p, i, s: FixedUser(["a", "b"]),
        stop=stop,
        on_event=on_event,
    )
    assert not report.complete and report.summary.completion.stopped_by == "the test"
    assert report.grade in ("B", "C", "D")  # an incomplete run is graded B at best
    assert 3 <= report.summary.total_conversations < 200


@pytest.mark.slow
def test_stress_follows_a_profile(tmp_path: Path) -> None:
    report = convoload.stress(
        users=2,
        duration_s=1.5,
        drain_s=10,
        runs_dir=tmp_path,
        target=Counter(),
        user=lambda p, i, s: FixedUser(["a", "b"]),
    )
    plan = report.run.plan
    assert (plan.users, plan.duration_s, plan.profile) == (2, 1.5, "steady")
    assert report.summary.total_conversations >= 2 and report.success_rate == 1.0


def test_the_public_surface_resolves_and_import_is_cheap() -> None:
    for name in convoload.__all__:
        assert getattr(convoload, name) is not None, name
    assert set(convoload.__all__) >= {"run", "stress", "converse", "Config", "Persona", "Target", "RunReport"}
    with pytest.raises(AttributeError):
        convoload.no_such_thing  # noqa: B018
    heavy = "('locust', 'gevent', 'sqlalchemy')"
    code = f"import sys, convoload; print(sorted(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.e2e
def test_the_docs_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = docs_blocks("guides/python.md", "# From Python")["python"]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(code, str(REPO / "docs/guides/python.md"), "exec"), namespace)  # its own asserts run too
    report = namespace["report"]
    assert isinstance(report, RunReport) and report.run_dir.parent == tmp_path / "runs"
