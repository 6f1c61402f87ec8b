"""`convoload report` on a distributed run whose master died: the master's partial journal and every
worker's merged into one run — each conversation once — with its aggregate, files, report.html and
results-store rows; worker folders from other machines given with --merge.

The workers' journals are dealt out of a real run's journal (real records, re-labelled with the worker's
run id as a worker writes them); the master's partial journal holds copies of some of their lines, as
the lines the workers shipped before it was killed, and ends with a torn line.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from convoload.model import ConversationRecord
from convoload.store.results import ResultsStore
from convoload.store.results.engine import default_store_url
from tests.helpers import error_line, invoke, journal_lines, run_dirs, write

RUN_ID = "20261205-101500-d15e7a"
SEED = 7
BLOCK = 1_000_000
NEVER_ENDED = "a kill or a crash (its run.json still says running)"

pytestmark = pytest.mark.e2e  # a real `convoload run`, then `convoload report` as a user runs it


def report(*args: str):
    """`convoload report ARGS`, away from any results database the shell running the tests names."""
    return invoke("report", *args, env={"CONVOLOAD_DB_URL": None})


@dataclass(frozen=True)
class Played:
    records: list[ConversationRecord]
    meta: dict[str, Any]  # its run.json


@pytest.fixture(scope="module")
def played(tmp_path_factory) -> Played:
    """A real run of 8 conversations against the demo agent."""
    base = tmp_path_factory.mktemp("played")
    config = write(
        base / "c.yaml",
        f"""
run: {{conversations: 8, concurrency: 8, seed: {SEED}, runs_dir: "{base / "runs"}"}}
target: {{type: demo, demo: {{reply_delay_s: 0.01, jitter_s: 0.0}}}}
""",
    )
    result = invoke("run", "-f", str(config), env={"CONVOLOAD_DB_URL": None})
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    (run_dir,) = run_dirs(base / "runs")
    records = journal_lines(run_dir / "journal.jsonl")
    assert len({r.session_id for r in records}) == 8
    return Played(records, json.loads((run_dir / "run.json").read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Cluster:
    run_dir: Path
    workers: list[Path]
    lines: list[list[bytes]]  # each worker's journal lines
    master_lines: list[bytes]  # the master's complete lines (copies of workers' lines)
    sessions: list[str]  # every conversation of the run


def write_worker(
    folder: Path, k: int, records: list[ConversationRecord], meta: dict[str, Any]
) -> list[bytes]:
    """What worker k of RUN_ID leaves: its journal (records under its own run id) and its run.json."""
    lines = [r.model_copy(update={"run_id": f"{RUN_ID}-w{k}"}).to_json() + b"\n" for r in records]
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_bytes(b"".join(lines))
    place = {"run_id": RUN_ID, "worker_index": k, "index_range": [k * BLOCK, (k + 1) * BLOCK]}
    own = {**meta, "run_id": f"{RUN_ID}-w{k}", "cluster": {**place, "forwarded_callbacks": False}}
    own.update(plan={"conversations": len(records)}, status="finished")
    own["target_stats"] = {"callbacks_accepted": 10}
    (folder / "run.json").write_text(json.dumps(own), encoding="utf-8")
    return lines


def master_meta(played: Played) -> dict[str, Any]:
    """The master's run.json as it was when it was killed: its run, still running."""
    meta = {k: v for k, v in played.meta.items() if k not in ("finished_at", "stopped_by", "target_stats")}
    return {**meta, "run_id": RUN_ID, "plan": {"conversations": 8, "users": 8}, "status": "running"}


def build_cluster(root: Path, played: Played, *, master: bool = True) -> Cluster:
    """runs/RUN_ID with worker-0 (conversations 0-3) and worker-1 (4-7); with `master`, the master's
    run.json and a partial journal: worker 0's last two lines, worker 1's first two, then a torn line."""
    run_dir = root / "runs" / RUN_ID
    workers = [run_dir / "worker-0", run_dir / "worker-1"]
    lines = [
        write_worker(workers[0], 0, played.records[:4], played.meta),
        write_worker(workers[1], 1, played.records[4:], played.meta),
    ]
    master_lines = lines[0][2:] + lines[1][:2] if master else []
    if master:
        (run_dir / "run.json").write_text(json.dumps(master_meta(played)), encoding="utf-8")
        torn = lines[1][2][: len(lines[1][2]) // 2]  # killed in the middle of a write
        (run_dir / "journal.jsonl").write_bytes(b"".join(master_lines) + torn)
    return Cluster(run_dir, workers, lines, master_lines, [r.session_id for r in played.records])


def stored(runs: Path, run_id: str = RUN_ID):
    with ResultsStore(default_store_url(runs), create=False) as store:
        sessions = [r.session_id for r in store.conversations(run_id)]
        return store.get_run(run_id), sessions, store.grades(run_id)


def test_a_killed_masters_run_is_merged_from_its_workers_each_conversation_once(tmp_path, played):
    cluster = build_cluster(tmp_path, played)
    run_dir, runs = cluster.run_dir, cluster.run_dir.parent
    # The master had started its row in the results store and written its first batch there.
    first_batch = [ConversationRecord.from_document(json.loads(line)) for line in cluster.master_lines[:2]]
    with ResultsStore(default_store_url(runs)) as store:
        store.start_run(RUN_ID, master_meta(played))
        store.add_conversations(RUN_ID, [(r, None) for r in first_batch])

    result = report(str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]

    # The journal: the master's complete lines as they were, then what it lacked; each conversation once.
    text = (run_dir / "journal.jsonl").read_bytes()
    merged = text.splitlines(keepends=True)
    assert merged[:4] == cluster.master_lines
    assert sorted(merged) == sorted(cluster.lines[0] + cluster.lines[1])
    sessions = [r.session_id for r in journal_lines(run_dir / "journal.jsonl")]
    assert len(sessions) == len(set(sessions)) == 8 and set(sessions) == set(cluster.sessions)

    aggregate = json.loads((run_dir / "aggregate.json").read_text(encoding="utf-8"))
    summary = aggregate["summary"]
    assert summary["total_conversations"] == 8 == len(cluster.lines[0]) + len(cluster.lines[1])
    assert summary["successful_conversations"] == sum(r.goal_reached for r in played.records)
    assert sorted(c["session_id"] for c in aggregate["conversations"]) == sorted(cluster.sessions)
    # The master never ended: the run is interrupted and incomplete, whatever its workers finished.
    assert aggregate["run"]["status"] == "interrupted"
    completion = summary["completion"]
    assert completion["complete"] is False and completion["stopped_by"] == NEVER_ENDED
    assert (completion["planned_conversations"], completion["finished_conversations"]) == (8, 8)

    distributed = aggregate["run"]["distributed"]
    assert distributed["merged_from"] == [
        {"records": str(cluster.workers[0].resolve()), "worker_index": 0, "conversations": 4, "kept": 4},
        {"records": str(cluster.workers[1].resolve()), "worker_index": 1, "conversations": 4, "kept": 4},
        {"records": str(run_dir.resolve()), "worker_index": None, "conversations": 4, "kept": 0},
    ]
    assert [(w["worker_index"], w["conversations"], w["complete"]) for w in distributed["workers"]] == [
        (0, 4, True),
        (1, 4, True),
    ]
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["distributed"] == distributed

    files = sorted(p.name for p in (run_dir / "conversations").iterdir())
    assert len(files) == 8 and all(any(s in name for name in files) for s in cluster.sessions)
    with open(run_dir / "conversations.csv", newline="", encoding="utf-8") as handle:
        assert sorted(row["session_id"] for row in csv.DictReader(handle)) == sorted(cluster.sessions)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert html.count("<details data-session=") == 8
    assert all(f'data-session="{s}"' in html for s in cluster.sessions)

    run, rows, _ = stored(runs)
    assert sorted(rows) == sorted(cluster.sessions)  # the first batch not twice
    assert run.status == "interrupted" and run.conversations == 8

    assert "merged: 8 conversations" in result.stdout
    assert str(cluster.workers[1].resolve()) in result.stdout.replace("\n", "")
    assert "results store: 6 conversations put back" in result.stdout

    # Again: nothing new, nothing twice.
    again = report(str(run_dir))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run_dir / "journal.jsonl").read_bytes() == text
    assert sorted(stored(runs)[1]) == sorted(cluster.sessions)


def test_worker_folders_from_other_machines_make_the_run_the_master_never_wrote(tmp_path, played):
    copied = build_cluster(tmp_path / "copied", played, master=False)
    host_a = tmp_path / "host-a" / "runs" / RUN_ID / "worker-0"
    host_b = tmp_path / "host-b" / "runs" / RUN_ID / "worker-1"
    for source, target in zip(copied.workers, (host_a, host_b), strict=True):
        shutil.copytree(source, target)
    runs = tmp_path / "main" / "runs"
    ResultsStore(default_store_url(runs)).close()  # the results database, without this run
    run_dir = runs / RUN_ID

    result = report(str(run_dir), "--merge", str(host_a), "--merge", str(host_b))
    assert result.returncode == 0, result.stderr[-3000:]

    sessions = [r.session_id for r in journal_lines(run_dir / "journal.jsonl")]
    assert sorted(sessions) == sorted(copied.sessions)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert (meta["run_id"], meta["seed"], meta["status"]) == (RUN_ID, SEED, "running")
    assert meta["plan"] == {"conversations": 8} and meta["target_stats"] == {"callbacks_accepted": 20}
    assert "cluster" not in meta
    workers = meta["distributed"]["workers"]
    assert [(w["worker_index"], w["run_id"], w["records"], w["index_range"]) for w in workers] == [
        (0, f"{RUN_ID}-w0", str(host_a.resolve()), [0, BLOCK]),
        (1, f"{RUN_ID}-w1", str(host_b.resolve()), [BLOCK, 2 * BLOCK]),
    ]
    assert [j["records"] for j in meta["distributed"]["merged_from"]] == [
        str(host_a.resolve()),
        str(host_b.resolve()),
    ]

    aggregate = json.loads((run_dir / "aggregate.json").read_text(encoding="utf-8"))
    assert aggregate["summary"]["total_conversations"] == 8 and aggregate["run"]["status"] == "interrupted"
    assert aggregate["summary"]["completion"]["complete"] is False
    assert (run_dir / "report.html").read_text(encoding="utf-8").count("<details data-session=") == 8

    run, rows, grades = stored(runs)  # added whole: the database never had it
    assert sorted(rows) == sorted(copied.sessions)
    assert run.status == "interrupted" and run.meta["run_id"] == RUN_ID
    assert [g.grade for g in grades] == [aggregate["assessment"]["grade"]]


def test_when_copies_differ_the_workers_own_is_kept(tmp_path, played):
    cluster = build_cluster(tmp_path, played)
    # The master's copy of worker 1's first conversation says something its worker never journaled.
    altered = json.loads(cluster.master_lines[2])
    session = altered["summary"]["session_id"]
    altered["turns"][0]["reply_text"] = "a copy that went wrong on its way"
    journal = cluster.run_dir / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = json.dumps(altered).encode() + b"\n"
    journal.write_bytes(b"".join(lines))
    user_id = altered["summary"]["user_id"]
    stale = write(cluster.run_dir / "conversations" / f"conversation_{user_id:05d}_{session}.json", "{}")

    result = report(str(cluster.run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 conversations differed between journals" in result.stderr and session in result.stderr

    merged = journal.read_bytes().splitlines(keepends=True)
    assert merged[2] == cluster.lines[1][0] and len(merged) == 8
    kept = ConversationRecord.from_document(json.loads(stale.read_text(encoding="utf-8")))
    assert kept == ConversationRecord.from_document(json.loads(cluster.lines[1][0]))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no journal", "{folder}: no journal.jsonl here"),
        ("missing", "{folder}: no such folder"),
        ("another run", "{folder}/run.json: cluster.run_id: a worker of run 'other-run', not '" + RUN_ID),
        ("single run", "{folder}/run.json: cluster: missing: not a distributed worker's run folder"),
        ("worker twice", "{folder}: worker 0 twice: also"),
        ("run folder of a worker", "{folder}/run.json: cluster: this is a worker's folder"),
    ],
)
def test_bad_folders_are_one_line_naming_them(tmp_path, played, case, expected):
    cluster = build_cluster(tmp_path / "cluster", played)
    run_dir = cluster.run_dir
    folder = tmp_path / "elsewhere" / "worker-1"
    if case == "no journal":
        folder.mkdir(parents=True)
    elif case == "another run":
        shutil.copytree(cluster.workers[1], folder)
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        meta["cluster"]["run_id"] = "other-run"
        (folder / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    elif case == "single run":
        folder.mkdir(parents=True)
        shutil.copy(cluster.workers[0] / "journal.jsonl", folder)
        (folder / "run.json").write_text(json.dumps(played.meta), encoding="utf-8")
    elif case == "worker twice":
        shutil.copytree(cluster.workers[0], folder)
    elif case == "run folder of a worker":
        run_dir = folder = cluster.workers[0]
        shutil.copytree(cluster.workers[1], tmp_path / "elsewhere" / "worker-1")
    before = (run_dir / "journal.jsonl").read_bytes()

    merge = tmp_path / "elsewhere" / "worker-1"
    result = report(str(run_dir), "--merge", str(merge))
    assert error_line(result).startswith(expected.format(folder=folder)), result.stderr
    assert (run_dir / "journal.jsonl").read_bytes() == before  # refused before anything was written


def test_help_tells_how_to_merge():
    result = report("--help")
    assert result.returncode == 0 and "--merge" in result.stdout and "merged_from" in result.stdout
