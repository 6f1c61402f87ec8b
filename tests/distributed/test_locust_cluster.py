"""The real `locust` command as a master and two workers on loopback, against the demo ticket agent.

The master holds the whole run: its journal, conversation files, aggregate, report and results-store
rows are what a single process writes, built from every line the workers journaled (each worker keeps
its own copy); a seeded run of N conversations plays the same conversations on one process and on
workers; identities are unique across workers; each worker hosts its own receiver, or the master
forwards callbacks.
"""

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from convoload.load.distributed import LOCUSTFILE, run_arguments, run_cluster
from convoload.model import ConversationRecord, distribution
from convoload.model.report import RunReport
from convoload.report.aggregate import cost_units
from convoload.store.journal import read_journal
from convoload.store.results import ResultsStore
from convoload_demo.llmserver.launcher import LocalLLMServer
from tests.helpers import free_consecutive_ports, run_dirs, spawn, write

pytestmark = pytest.mark.e2e

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def llm():
    with LocalLLMServer() as server:  # plays the personas; priced below as a paid model
        yield server


def locust_env():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("LOCUST_STOP_TIMEOUT", None)
    env.pop("CONVOLOAD_DB_URL", None)  # the runs folder's database
    return env


def journals(run_dir):
    return {k: read_journal(run_dir / f"worker-{k}" / "journal.jsonl") for k in (0, 1)}


def store_of(runs: Path) -> ResultsStore:
    return ResultsStore(f"sqlite:///{runs / 'results.sqlite'}", create=False)


def assert_the_master_holds_the_run(run_dir: Path) -> list[ConversationRecord]:
    """The master's journal has every line its workers journaled, once; its conversation files, run
    row and conversation rows match it, and no worker run is in the store. Returns its records."""
    lines = (run_dir / "journal.jsonl").read_bytes().splitlines()
    workers = sorted(run_dir.glob("worker-*/journal.jsonl"))
    assert len(workers) == 2
    theirs = [line for path in workers for line in path.read_bytes().splitlines()]
    assert sorted(lines) == sorted(theirs) and len(set(lines)) == len(lines)  # every line, once
    records = read_journal(run_dir / "journal.jsonl")
    assert sorted(p.name for p in (run_dir / "conversations").iterdir()) == sorted(
        f"conversation_{r.user_id:05d}_{r.session_id}.json" for r in records
    )
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert all(r.session_id in html for r in records)
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    with store_of(run_dir.parent) as store:
        assert [r.run_id for r in store.list_runs()] == [run_dir.name]  # the master's run, no worker's
        row = store.get_run(run_dir.name)
        assert row.status == aggregate["run"]["status"] and row.summary == aggregate["summary"]
        stored = store.conversations(run_dir.name)
        assert sorted(r.session_id for r in stored) == sorted(r.session_id for r in records)
        assert [g.grade for g in store.grades(run_dir.name)] == [aggregate["assessment"]["grade"]]
    assert {r.run_id for r in records} == {run_dir.name}  # a worker's records carry the run's id
    workers_meta = aggregate["run"]["distributed"]["workers"]
    assert all(w["complete"] and w["journal_bytes"] == (run_dir / f"worker-{w['worker_index']}" /
        "journal.jsonl").stat().st_size for w in workers_meta)  # fmt: skip
    return records


@pytest.mark.slow
def test_master_and_two_workers_merge_exactly_and_keep_identities_unique(tmp_path, llm):
    base = free_consecutive_ports(2)
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 11, persona_assignment: round_robin, worker_index_block: 1000}}
user: {{type: llm}}
llm:
  providers: [{{name: local, model: gemini-2.5-flash, base_url: "{llm.base_url}", free: false}}]
  cache_path: null
target:
  type: demo
  demo: {{reply_delay_s: 0.01, jitter_s: 0.0}}
  receiver: {{port: {base}}}
""",
    )
    master_port = free_consecutive_ports(1)
    common = ["--convoload-config", str(config), "--runs-dir", str(tmp_path / "runs")]
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master_cmd = [
        *locust,
        "--master",
        "--master-bind-host=127.0.0.1",
        f"--master-bind-port={master_port}",
        "--expect-workers=2",
        "--headless",
        "--only-summary",
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "4s",
        "--stop-timeout",
        "0",  # conversations under way at the end are cut off: interrupted ones must add up too
        "--run-id",
        "cluster-run",
        "--json-file",
        str(tmp_path / "stats"),
        *common,
    ]
    worker_cmd = [*locust, "--worker", "--master-host=127.0.0.1", f"--master-port={master_port}", *common]
    env = locust_env()
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    procs = []
    try:
        for name, cmd in (("master", master_cmd), ("worker0", worker_cmd), ("worker1", worker_cmd)):
            with open(logs_dir / f"{name}.log", "w") as log:  # the child keeps its own copy of the handle
                procs.append(
                    subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        master = procs[0]
        master.wait(timeout=TIMEOUT_S)
        for worker in procs[1:]:
            worker.wait(timeout=30)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    logs = {name: (logs_dir / name).read_text() for name in ("master.log", "worker0.log", "worker1.log")}
    assert master.returncode in (0, 1), logs["master.log"][-3000:]  # 1: Locust saw failures (interrupted)
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"

    run_dir = tmp_path / "runs" / "cluster-run"
    document = json.loads((run_dir / "aggregate.json").read_text())
    records = journals(run_dir)
    every = records[0] + records[1]
    assert records[0] and records[1]
    assert len(assert_the_master_holds_the_run(run_dir)) == len(every)
    summary = document["summary"]

    # Sums: exactly what the workers journaled.
    assert summary["total_conversations"] == len(every)
    assert summary["successful_conversations"] == sum(r.goal_reached for r in every) > 0
    assert summary["interrupted_conversations"] == sum(r.outcome.value == "interrupted" for r in every) > 0
    assert summary["outcomes"] == dict(sorted(Counter(r.outcome.value for r in every).items()))
    assert summary["errors_by_kind"] == dict(Counter(r.error.kind.value for r in every if r.error))
    assert summary["total_turns"] == sum(r.iterations for r in every)
    assert summary["tokens"]["total"] == sum(r.usage.total_tokens for r in every) > 0
    assert summary["tokens"]["prompt"] == sum(r.usage.prompt_tokens for r in every)
    assert cost_units(summary["total_cost_usd"]) == sum(cost_units(r.usage.cost_usd) for r in every) > 0
    assert summary["llm"]["calls"] == sum(r.usage.llm_calls for r in every)
    findings = Counter(f.hook for r in every for f in r.findings)
    assert findings and {k: v["count"] for k, v in document["findings"]["by_hook"].items()} == findings
    assert sorted(s["session_id"] for s in document["conversations"]) == sorted(r.session_id for r in every)

    # Exact latency percentiles over both workers, per request type and persona.
    turns = [t for r in every for t in r.turns if t.error is None and t.latency_ms is not None]
    assert document["requests"]["MESSAGE"]["all"] == {
        **distribution(t.latency_ms for t in turns),
        "failures": sum(1 for r in every for t in r.turns if t.error),
    }
    kataryna = [t.latency_ms for r in every if r.persona == "Kataryna" for t in r.turns if t.error is None]
    assert document["requests"]["MESSAGE"]["by_name"]["Kataryna"]["p95"] == distribution(kataryna)["p95"]
    finished = [r.total_time_ms for r in every if r.outcome.value != "interrupted"]
    assert document["requests"]["CONVERSATION"]["all"]["p50"] == distribution(finished)["p50"]
    assert (
        document["requests"]["LLM"]["by_name"]["local/gemini-2.5-flash"]["count"] == summary["llm"]["calls"]
    )

    # Unique customers across workers: disjoint index blocks, one seed.
    for field in ("cpf_digits", "phone_digits", "email"):
        values = [r.identity[field] for r in every]
        assert len(set(values)) == len(values), field
    assert all(1 <= r.user_id <= 1000 for r in records[0])
    assert all(1001 <= r.user_id <= 2000 for r in records[1])
    assert (
        {r.persona for r in records[0]} == {r.persona for r in records[1]} == {"Kataryna", "Talliz", "Edman"}
    )

    # A receiver per worker, on base port + worker index, each answering its own callbacks.
    workers_meta = {w["worker_index"]: w for w in document["run"]["distributed"]["workers"]}
    assert workers_meta[0]["receiver_url"] == f"http://127.0.0.1:{base}"
    assert workers_meta[1]["receiver_url"] == f"http://127.0.0.1:{base + 1}"
    assert all(w["complete"] for w in workers_meta.values())
    for k in (0, 1):
        own = json.loads((run_dir / f"worker-{k}" / "aggregate.json").read_text())
        assert own["summary"]["total_conversations"] == len(records[k]) == workers_meta[k]["conversations"]
        assert own["run"]["target_stats"]["callbacks_accepted"] > 0
    assert document["run"]["target_stats"]["callbacks_accepted"] == sum(
        json.loads((run_dir / f"worker-{k}" / "aggregate.json").read_text())["run"]["target_stats"][
            "callbacks_accepted"
        ]
        for k in (0, 1)
    )
    assert "Latency (exact, every value)" in logs["master.log"]  # the master's summary

    # The typed report reads the merged aggregate (and each worker's) and writes it back as the same text.
    for folder in (run_dir, run_dir / "worker-0", run_dir / "worker-1"):
        text = (folder / "aggregate.json").read_text(encoding="utf-8")
        assert json.dumps(RunReport.read(folder).to_document(), ensure_ascii=False, indent=2) == text
    report = RunReport.read(run_dir)
    assert report.run.distributed is not None
    assert {w.worker_index: w.receiver_url for w in report.run.distributed.workers} == {
        k: w["receiver_url"] for k, w in workers_meta.items()
    }
    assert report.summary.llm.by_provider["local/gemini-2.5-flash"].calls == summary["llm"]["calls"]


def the_conversations(records: list[ConversationRecord]) -> list[tuple]:
    """What makes a conversation the same one elsewhere: persona, identity, texts, outcome (the demo's
    order ids hash the session id, which is random: they are left out)."""
    return sorted(
        (
            r.user_id,
            r.persona,
            tuple(r.identity[k] for k in ("full_name", "cpf", "phone", "email")),
            tuple((t.user_text, re.sub(r"CV[0-9A-F]{10}", "CV…", t.reply_text or "")) for t in r.turns),
            r.outcome.value,
        )
        for r in records
    )


COUNTS = (
    "total_conversations",
    "successful_conversations",
    "interrupted_conversations",
    "failed_conversations",
    "outcomes",
    "errors_by_kind",
    "total_turns",
    "failed_turns",
    "avg_iterations_per_conversation",
    "avg_iterations_to_goal",
    "agent_changes",
    "agent_transitions",
    "tokens",
)


@pytest.mark.slow
def test_a_seeded_run_on_two_workers_is_the_run_one_process_makes(tmp_path):
    """`convoload run -n N --seed S` on one process and with `--workers 2`: the same conversations,
    counts and report sections; the master's folder and store hold them all, each worker a copy of its
    share."""
    config = write(
        tmp_path / "c.yaml",
        "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0.01, jitter_s: 0}}\n",
    )
    n = 12
    args = ["run", "-f", str(config), "-n", str(n), "-c", "4", "--seed", "5", "--max-iterations", "8"]
    took = {}
    for name, extra in (("single", []), ("cluster", ["--workers", "2"])):
        started = time.monotonic()
        result = spawn(
            *args, *extra, "--runs-dir", str(tmp_path / name), cwd=tmp_path, env={"CONVOLOAD_DB_URL": ""}
        )
        took[name] = time.monotonic() - started
        assert result.returncode == 0, result.stderr[-3000:]
    [single], [cluster] = run_dirs(tmp_path / "single"), run_dirs(tmp_path / "cluster")

    ones, theirs = read_journal(single / "journal.jsonl"), assert_the_master_holds_the_run(cluster)
    assert the_conversations(theirs) == the_conversations(ones)
    assert len(ones) == n and {r.outcome.value for r in ones} == {"goal_reached", "max_iterations"}
    # Each worker played its slice of indices 0..N-1 and keeps its own copy of it.
    shares = journals(cluster)
    assert sorted(r.user_id for r in shares[0]) == list(range(1, 7))
    assert sorted(r.user_id for r in shares[1]) == list(range(7, 13))
    for k in (0, 1):
        own = json.loads((cluster / f"worker-{k}" / "aggregate.json").read_text())
        assert (
            own["summary"]["total_conversations"]
            == 6
            == len(list((cluster / f"worker-{k}" / "conversations").iterdir()))
        )

    a, b = (json.loads((d / "aggregate.json").read_text()) for d in (single, cluster))
    assert a.keys() == b.keys() and a["summary"].keys() == b["summary"].keys()
    assert {k: a["summary"][k] for k in COUNTS} == {k: b["summary"][k] for k in COUNTS}
    assert a["summary"]["completion"]["complete"] is b["summary"]["completion"]["complete"] is True
    assert a["run"]["status"] == b["run"]["status"] == "finished"
    assert a["requests"].keys() == b["requests"].keys() and a["latency"].keys() == b["latency"].keys()
    for table in ("requests", "latency"):
        for key, row in a[table].items():
            counts = {name: r["count"] for name, r in row.get("by_name", {}).items()}
            assert counts == {name: r["count"] for name, r in b[table][key].get("by_name", {}).items()}
            assert row.get("all", row)["count"] == b[table][key].get("all", b[table][key])["count"]
    assert {p: (v["conversations"], v["successful"]) for p, v in a["personas"].items()} == {
        p: (v["conversations"], v["successful"]) for p, v in b["personas"].items()
    }
    assert len(a["conversations"]) == len(b["conversations"]) == n
    assert (single / "conversations.csv").read_text().count("\n") == (
        cluster / "conversations.csv"
    ).read_text().count("\n")
    with store_of(tmp_path / "single") as store:
        [row] = store.list_runs()
        assert row.conversations == n and row.summary["outcomes"] == b["summary"]["outcomes"]
    print(f"single {took['single']:.1f} s, two workers {took['cluster']:.1f} s")


@pytest.mark.slow
def test_one_public_callback_address_on_the_master_forwards_to_the_owning_worker(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        "run: {seed: 5}\n"
        "target: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0.0},"
        " receiver: {forwarder: {port: 0}}}\n",
    )
    with open(tmp_path / "master.log", "w") as output:
        options, master_options = run_arguments(config=str(config), conversations=6, concurrency=4)
        result = run_cluster(
            2,
            options,
            master_options,
            runs_dir="runs",
            cwd=tmp_path,
            env=locust_env(),
            output=output,
            timeout_s=TIMEOUT_S,
        )
    log = (tmp_path / "master.log").read_text()
    assert result.exit_code == 0, log[-3000:]
    assert result.worker_exit_codes == [0, 0]
    document = result.aggregate()
    records = journals(result.run_dir)
    summary = document["summary"]
    # A fixed number of conversations, split across the workers, all of them recorded on the master.
    assert summary["total_conversations"] == 6 == len(records[0]) + len(records[1])
    assert len(records[0]) == len(records[1]) == 3
    assert len(assert_the_master_holds_the_run(result.run_dir)) == 6
    assert summary["successful_conversations"] == 6

    distributed = document["run"]["distributed"]
    forwarded = document["run"]["forwarder_stats"]
    accepted = [
        json.loads((result.run_dir / f"worker-{k}" / "aggregate.json").read_text())["run"]["target_stats"][
            "callbacks_accepted"
        ]
        for k in (0, 1)
    ]
    # Every callback went to the master, which handed it to the worker whose conversation it was.
    assert forwarded == {"forwarded": summary["total_turns"]}
    assert all(a > 0 for a in accepted) and sum(a for a in accepted) == summary["total_turns"]
    urls = {w["receiver_url"] for w in distributed["workers"]}
    assert len(urls) == 2 and distributed["forwarder_url"] not in urls
    assert all(w["complete"] for w in distributed["workers"])


def test_a_fixed_number_of_conversations_ends_a_standalone_locust_run(tmp_path):
    """`--conversations N` without a run time: the test ends by itself once N are recorded."""
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0.0}}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "-u",
            "2",
            "-r",
            "2",
            "--conversations",
            "5",
            "--run-id",
            "five",
            "--convoload-config",
            str(config),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        cwd=tmp_path,
        env=locust_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = read_journal(tmp_path / "runs" / "five" / "journal.jsonl")
    assert len(records) == 5 and all(r.goal_reached for r in records)


@pytest.mark.slow
def test_a_worker_that_cannot_start_ends_the_run_with_exit_code_2(tmp_path):
    """Worker 0's receiver port is taken: it tells the master, which stops everything and says why."""
    import socket

    base = free_consecutive_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        taken.listen()
        config = write(
            tmp_path / "c.yaml",
            f"target: {{type: demo, demo: {{reply_delay_s: 0.01}}, receiver: {{port: {base}}}}}\n",
        )
        options, master_options = run_arguments(config=str(config), concurrency=2, duration_s=60)
        with open(tmp_path / "master.log", "w") as output:
            result = run_cluster(
                2, options, master_options, cwd=tmp_path, env=locust_env(), output=output, timeout_s=TIMEOUT_S
            )
    log = (tmp_path / "master.log").read_text()
    assert result.exit_code == 2, log[-3000:]
    assert f"convoload worker 0 could not start: {config}: target.receiver.port: cannot listen" in log
    workers = {w["worker_index"]: w for w in result.aggregate()["run"]["distributed"]["workers"]}
    assert "cannot listen" in workers[0]["error"] and not workers[0]["complete"]


def test_a_master_stopped_while_it_waits_for_its_workers_still_writes_the_run(tmp_path):
    """Headless, Locust installs its SIGTERM handler once its workers are in; ours covers the wait."""
    import signal

    master = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(free_consecutive_ports(1)),
            "--expect-workers",
            "2",
            "--headless",
            "--only-summary",
            "-u",
            "2",
            "-r",
            "2",
            "--run-id",
            "lonely",
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=locust_env(),
    )
    lines = []
    for line in master.stderr:  # the master is set up (and guarded) once it names its records
        lines.append(line)
        if "records in" in line:
            break
    master.send_signal(signal.SIGTERM)
    _, rest = master.communicate(timeout=TIMEOUT_S)
    output = "".join(lines) + rest
    assert master.returncode == 143, output[-3000:]  # ended by SIGTERM, as a shell reports it
    aggregate = json.loads((tmp_path / "runs" / "lonely" / "aggregate.json").read_text())
    assert aggregate["summary"]["total_conversations"] == 0
    assert aggregate["run"]["distributed"]["workers"] == []
    assert (tmp_path / "runs" / "lonely" / "report.html").is_file()
    with store_of(tmp_path / "runs") as store:  # the run's row, started with the master, closed
        row = store.get_run("lonely")
        assert (row.status, row.conversations) == (aggregate["run"]["status"], 0)
        assert row.status != "running"
