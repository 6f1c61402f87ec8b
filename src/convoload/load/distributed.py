"""A distributed run on this machine: Locust's master and N workers on loopback, as processes.

What `convoload run --workers N` does (the CLI builds the arguments with `run_arguments`). It is
exactly the multi-machine setup of docs/distributed.md with every process on 127.0.0.1: the real
`locust` command with convoload's locustfile, one `--master` and N `--worker`s, each worker with
its own receiver, conversation indices and copy of its records (runs/<run id>/worker-<k>/), the
master with the whole run's records, as one process writes them (runs/<run id>/: journal.jsonl,
conversations/, aggregate.json, report.html; the results store). Workers' output goes to
runs/<run id>/worker-<k>.log; the master's to this process's (or `output`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from convoload.load.context import new_run_id
from convoload.model.report import RunReport
from convoload.signals import StopRequest
from convoload.store.journal import AGGREGATE_NAME

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
_WORKER_QUIT_S = 30.0  # after the master exits, workers have been told to quit
_MASTER_NOTICES_S = 5.0  # after a worker failed, before the master is told to stop


@dataclass
class ClusterResult:
    exit_code: int  # the master's, or the first failing worker's
    run_id: str
    run_dir: Path  # the master's folder: the run's records; worker-<k>/ copies when on this machine
    worker_exit_codes: list[int]

    def aggregate(self) -> dict[str, Any] | None:
        path = self.run_dir / AGGREGATE_NAME
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def report(self) -> RunReport | None:
        """The aggregate the master wrote, typed; None when it wrote none."""
        path = self.run_dir / AGGREGATE_NAME
        return RunReport.read(path) if path.is_file() else None


def run_arguments(
    *,
    config: str | None = None,
    conversations: int | None = None,
    concurrency: int = 3,
    duration_s: float | None = None,
    ramp_up_s: float = 0.0,
    persona: str | None = None,
    seed: int | None = None,
    max_iterations: int | None = None,
    user_mode: str | None = None,
    llm: str | None = None,
    replay: bool = False,
) -> tuple[list[str], list[str]]:
    """`convoload run` options as (convoload options for every process, Locust options for the master).

    Without `conversations` and `duration_s` the test runs until interrupted. The runs folder is
    `run_cluster`'s to pass.
    """
    options: list[str] = []
    for flag, value in (
        ("--convoload-config", config),
        ("--persona", persona),
        ("--seed", seed),
        ("--max-iterations", max_iterations),
        ("--user-mode", user_mode),
        ("--llm", llm),
    ):
        if value is not None:
            options += [flag, str(value)]
    if replay:
        options.append("--replay")
    spawn_rate = concurrency / ramp_up_s if ramp_up_s > 0 else concurrency
    master = ["-u", str(concurrency), "-r", f"{spawn_rate:g}"]
    if conversations is not None:
        master += ["--conversations", str(conversations)]
    if duration_s is not None:
        master += ["-t", f"{duration_s:g}s"]
    return options, master


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster_commands(
    workers: int,
    options: Sequence[str],
    master_options: Sequence[str],
    *,
    run_id: str,
    master_port: int,
    python: str = sys.executable,
    locustfile: Path = LOCUSTFILE,
) -> tuple[list[str], list[list[str]]]:
    """The master's command line and each worker's."""
    locust = [python, "-m", "locust", "-f", str(locustfile)]
    master = [
        *locust,
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(master_port),
        "--expect-workers",
        str(workers),
        "--expect-workers-max-wait",
        "60",
        "--headless",
        "--only-summary",
        "--run-id",
        run_id,
        *options,
        *master_options,
    ]
    worker = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port), *options]
    return master, [list(worker) for _ in range(workers)]


def run_cluster(
    workers: int,
    options: Sequence[str] = (),
    master_options: Sequence[str] = (),
    *,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    output: IO[str] | None = None,
    timeout_s: float | None = None,
    stop: StopRequest | None = None,
    started: list[subprocess.Popen[bytes]] | None = None,
    locustfile: Path = LOCUSTFILE,
) -> ClusterResult:
    """Run master + `workers` workers to the end; returns when every process has exited.

    `options` are convoload's locust options (given to every process), `master_options` Locust's
    own (users, spawn rate, run time, --csv/--html...); `runs_dir` is given to every process as
    --runs-dir (pass the config's run.runs_dir or the user's flag). A worker that fails ends the
    run; Ctrl-C stops it the way Locust does.

    The processes run in a session of their own, so a terminal's Ctrl-C reaches only this process. A
    `stop` request (this process got SIGINT or SIGTERM) passes that signal on to the master, which
    ends the run as on its own signal: workers cut off what is under way, the run's records are
    written. `started` gets the processes (master first), for a caller that must signal them too.
    `locustfile`: convoload's, or one that builds on it (e.g. `convoload capacity`'s, with its shape).
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    run_id = run_id or new_run_id()
    base = Path(cwd) if cwd is not None else Path.cwd()
    run_dir = Path(runs_dir) if Path(runs_dir).is_absolute() else base / runs_dir
    run_dir = run_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    options = [*options, "--runs-dir", str(run_dir.parent)]  # one runs folder for every process
    master_cmd, worker_cmds = cluster_commands(
        workers, options, master_options, run_id=run_id, master_port=_free_port(), locustfile=locustfile
    )
    environment = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    logs = [(run_dir / f"worker-{k}.log").open("w", encoding="utf-8") for k in range(workers)]
    master = subprocess.Popen(
        master_cmd, cwd=base, env=environment, stdout=output, stderr=output, start_new_session=True
    )
    procs = [
        subprocess.Popen(
            cmd, cwd=base, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for cmd, log in zip(worker_cmds, logs, strict=True)
    ]
    if started is not None:
        started.extend([master, *procs])
    if stop is not None:
        stop.on_set(lambda: master.send_signal(stop.signum or signal.SIGTERM))
    failed: list[int] = []

    def watch(proc: subprocess.Popen[bytes]) -> None:
        # A worker that dies on its own (not told to quit by the master) would leave the master waiting.
        code = proc.wait()
        if code == 0 or master.poll() is not None:
            return
        failed.append(code)
        try:  # a worker that told the master why it failed is ended by the master itself
            master.wait(timeout=_MASTER_NOTICES_S)
        except subprocess.TimeoutExpired:
            master.send_signal(signal.SIGTERM)

    watchers = [threading.Thread(target=watch, args=(p,), daemon=True) for p in procs]
    for thread in watchers:
        thread.start()
    try:
        code = master.wait(timeout=timeout_s)
    except KeyboardInterrupt:
        master.send_signal(signal.SIGINT)  # Locust's own Ctrl-C: stop, quit the workers, summary
        code = master.wait()
    except subprocess.TimeoutExpired:
        master.send_signal(signal.SIGTERM)  # Locust shuts down: drains the workers, writes the aggregate
        try:
            code = master.wait(timeout=_WORKER_QUIT_S)
        except subprocess.TimeoutExpired:
            master.kill()
            code = master.wait()
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=_WORKER_QUIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    codes = [p.returncode for p in procs]
    return ClusterResult(
        exit_code=failed[0] if failed else code,
        run_id=run_id,
        run_dir=run_dir,
        worker_exit_codes=codes,
    )
