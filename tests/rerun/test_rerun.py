"""`convoload rerun` with scripted users against the bundled ticket agent, and its bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from convoload.model import ConversationRecord, Outcome, TurnRecord, Usage
from convoload.rerun import diverged_at
from tests.helpers import error_line, invoke, run_dirs, write
from tests.rerun.helpers import (
    TICKETS,
    SwitchableAgent,
    by_persona,
    messages,
    new_runs,
    records,
    run_json,
    tickets_run,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tickets_run(tmp_path_factory.mktemp("tickets"))


def test_rerun_failed_plays_the_failed_conversation_again_with_the_same_messages(tickets, tmp_path):
    original = by_persona(tickets)
    out = tmp_path / "reruns"
    ran = invoke("rerun", str(tickets), "--failed", "--out", str(out))
    assert ran.returncode == 0, ran.stderr[-3000:]

    (rerun_dir,) = new_runs(out)
    (again,) = records(rerun_dir)  # only Talliz missed the goal
    failed = original["Talliz"]
    assert again.rerun_of == failed.session_id and again.session_id != failed.session_id
    assert (again.persona, again.user_id, again.identity) == (failed.persona, failed.user_id, failed.identity)
    assert messages(again) == messages(failed) and len(messages(again)) == 9
    assert again.outcome == Outcome.MAX_ITERATIONS and again.diverged_at is None
    meta = run_json(rerun_dir)
    assert meta["seed"] == 7 and meta["rerun_of"]["run_id"] == tickets.name
    assert meta["rerun_of"]["sessions"] == [failed.session_id]
    assert failed.session_id[:8] in ran.stdout and "max_iterations" in ran.stdout
    # The journal line says so; an ordinary conversation's summary keeps its old shape.
    line = json.loads((rerun_dir / "journal.jsonl").read_text().splitlines()[0])
    assert line["summary"]["rerun_of"] == failed.session_id and line["summary"]["diverged_at"] is None
    assert "rerun_of" not in json.loads((tickets / "journal.jsonl").read_text().splitlines()[0])["summary"]


def test_rerun_by_session_prefix_and_exit_codes_as_run(tickets, tmp_path):
    original = by_persona(tickets)
    chosen = [original["Kataryna"], original["Edman"]]
    out = tmp_path / "reruns"
    args = ["rerun", tickets.name, "--runs-dir", str(tickets.parent), "--out", str(out)]
    ran = invoke(*args, "-s", chosen[0].session_id[:10], "-s", chosen[1].session_id, "--fail-under", "100")
    assert ran.returncode == 0, ran.stderr[-3000:]
    (rerun_dir,) = new_runs(out)
    again = {r.rerun_of: r for r in records(rerun_dir)}
    assert set(again) == {c.session_id for c in chosen}
    for record in chosen:
        assert messages(again[record.session_id]) == messages(record)
        assert again[record.session_id].goal_reached and again[record.session_id].diverged_at is None

    # Every conversation (neither --failed nor --session): Talliz still fails, under --fail-under 100.
    ran = invoke("rerun", str(tickets), "--out", str(out), "--fail-under", "100")
    assert ran.returncode == 1 and "below 100" in ran.stderr
    assert len(records(new_runs(out, rerun_dir)[0])) == 3


def test_bad_input_is_one_line_and_exit_2(tickets, tmp_path):
    assert "no journal.jsonl" in error_line(invoke("rerun", "nope", "--runs-dir", str(tmp_path)))
    assert "has no conversation 'zzz'" in error_line(invoke("rerun", str(tickets), "--session", "zzz"))
    assert "no journal.jsonl" in error_line(invoke("export", "nope", "-s", "x", "--as", "fixed"))
    line = error_line(invoke("export", str(tickets), "-s", "zzz", "--as", "pytest"))
    assert line.startswith("--session") and "zzz" in line
    assert error_line(invoke("export", str(tickets), "-s", "a", "--as", "junit")).startswith("--as")

    # --failed on a run whose every conversation reached its goal.
    out = tmp_path / "reruns"
    chosen = by_persona(tickets)["Edman"].session_id
    assert invoke("rerun", str(tickets), "--session", chosen, "--out", str(out)).returncode == 0
    (passed,) = new_runs(out)
    assert "has no failed conversation" in error_line(invoke("rerun", str(passed), "--failed"))
    assert new_runs(out) == [passed]  # nothing was started


def _turn(i: int, text: str, *, live: bool = False, replayed: bool = False) -> TurnRecord:
    usage = Usage(llm_calls=1) if live else Usage(replayed_calls=1) if replayed else None
    return TurnRecord(iteration=i, user_text=text, sent_at="t", reply_text="r", usage=usage)


def _record(*turns: TurnRecord, usage: Usage | None = None) -> ConversationRecord:
    return ConversationRecord(
        run_id="r",
        session_id="s",
        user_id=1,
        persona="P",
        started_at="t",
        turns=list(turns),
        usage=usage or Usage(),
    )


def test_diverged_at_is_the_first_turn_whose_message_did_not_follow():
    original = _record(_turn(1, "a"), _turn(2, "b"), _turn(3, "c"))
    assert diverged_at(original, _record(_turn(1, "a"), _turn(2, "b"), _turn(3, "c"))) is None
    assert diverged_at(original, _record(_turn(1, "a"), _turn(2, "B"), _turn(3, "c"))) == 2
    assert diverged_at(original, _record(_turn(1, "a"), _turn(2, "b"))) == 3  # stopped where it went on
    assert diverged_at(original, _record(*original.turns, _turn(4, "d"))) == 4  # went on where it stopped
    # LLM users: a message written live is a divergence even when it reads the same.
    replayed = _record(_turn(1, "a", replayed=True), _turn(2, "b", live=True), _turn(3, "c", live=True))
    assert diverged_at(original, replayed) == 2
    # ...and so is a live call that ended the conversation after the same three turns.
    same = [_turn(1, "a", replayed=True), _turn(2, "b", replayed=True), _turn(3, "c", replayed=True)]
    assert diverged_at(original, _record(*same, usage=Usage(replayed_calls=3, llm_calls=1))) == 4
    assert diverged_at(original, _record(*same, usage=Usage(replayed_calls=4))) is None


def test_rerun_aimed_at_another_target(tickets, tmp_path, local_app):
    app = local_app(SwitchableAgent())  # the same assistant, over plain HTTP
    failed = by_persona(tickets)["Talliz"]
    out = tmp_path / "reruns"
    ran = invoke("rerun", str(tickets), "--failed", "--out", str(out), "--url", f"{app.url}/v1/chat")
    assert ran.returncode == 0, ran.stderr[-3000:]
    (again,) = records(new_runs(out)[0])
    assert len(app.requests) == len(again.turns) == 9  # every turn went to the other target
    assert messages(again) == messages(failed) and again.diverged_at is None
    assert run_json(new_runs(out)[0])["target"]["type"] == "http"


def test_rerun_of_a_distributed_run_reads_a_worker_s_settings(tmp_path):
    config = write(tmp_path / "tickets.yaml", TICKETS)
    ran = invoke("run", "-f", str(config), "--runs-dir", str(tmp_path / "runs"), "--workers", "2")
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "runs")
    assert not (run_dir / "settings.json").exists() and (run_dir / "worker-0" / "settings.json").is_file()
    failed = by_persona(run_dir)["Talliz"]
    ran = invoke("rerun", str(run_dir), "--failed", "--out", str(tmp_path / "again"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (again,) = records(run_dirs(tmp_path / "again")[0])
    assert again.rerun_of == failed.session_id and messages(again) == messages(failed)


def test_a_run_without_settings_reads_the_config_its_run_json_names(tickets, tmp_path):
    old = shutil.copytree(tickets, tmp_path / "old" / tickets.name)
    (old / "settings.json").unlink()  # as a run of an earlier version left it
    failed = by_persona(old)["Talliz"]
    ran = invoke("rerun", str(old), "--failed", "--out", str(tmp_path / "a"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (again,) = records(run_dirs(tmp_path / "a")[0])
    assert messages(again) == messages(failed)

    # Neither settings.json nor the config file: -f gives it, else one line names the folder.
    config = Path(run_json(old)["config"])
    moved = config.rename(tmp_path / "moved.yaml")
    try:
        assert "give it with -f" in error_line(invoke("rerun", str(old), "--failed"))
        ran = invoke("rerun", str(old), "--failed", "-f", str(moved), "--out", str(tmp_path / "b"))
        assert ran.returncode == 0, ran.stderr[-3000:]
        (again,) = records(run_dirs(tmp_path / "b")[0])
        assert messages(again) == messages(failed)
    finally:
        moved.rename(config)
