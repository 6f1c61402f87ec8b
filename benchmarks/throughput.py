"""Throughput: scripted-user turns/s next to raw Locust FastHttpUser requests/s, same endpoint, same run.

  python benchmarks/throughput.py [--users 50] [--seconds 20] [--turns 10] [--json]

A loopback target in its own process answers POST /chat at once (zero delay). In this process, one
after the other, each through Locust's real LocalRunner with no wait time and the same number of users:
  raw         a FastHttpUser POSTing the same JSON body to /chat in a loop      -> requests/s
  convoload   scripted conversations of --turns turns (`run_for`: event bus, hooks, journal,
              results store, Locust stats), a new connection per conversation   -> turns/s
Both are counted over the same window after a warm-up. The target shares the machine's cores, so its
CPU and ours are printed too: when the target is saturated, raw requests/s is the target's limit.
Goal: turns/s >= 0.5 x requests/s.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.event import Events  # noqa: E402

from benchkit import (  # noqa: E402
    CpuWatch,
    LoopbackTarget,
    WindowClock,
    bench_config,
    machine_load,
    print_table,
    quiet_locust_spawn_notice,
    raise_fd_limit,
)
from convoload.events import ReplyReceived, TurnFailed  # noqa: E402
from convoload.load.context import RunContext  # noqa: E402
from convoload.load.engine import run_for  # noqa: E402
from convoload.load.shapes import SteadyShape  # noqa: E402

GOAL_RATIO = 0.5
WARMUP_S = 3.0


class RawChatUser(FastHttpUser):
    """What a plain Locust test of the same endpoint does: one JSON POST after another."""

    wait_time = constant(0)

    @task
    def chat(self) -> None:
        self.client.post("/chat", json={"session_id": "raw", "text": "oi, tudo bem?", "iteration": 1})


@dataclass
class Phase:
    name: str
    count: int  # requests or turns in the window
    failures: int
    wall_s: float
    cpu_pct: float
    target_cpu_pct: float
    cpu_warning: bool
    conversations: int = 0
    loop_cpu_pct: float = 0.0  # the main thread's share: the event loop every user shares

    @property
    def per_s(self) -> float:
        return self.count / self.wall_s

    @property
    def cpu_ms_each(self) -> float:
        """Harness CPU per request or turn: comparable even when the machine is busy."""
        return self.cpu_pct / 100 * self.wall_s / self.count * 1000 if self.count else 0.0

    @property
    def loop_cpu_ms_each(self) -> float:
        """Event-loop (main thread) CPU per request or turn: what bounds the rate of one process."""
        return self.loop_cpu_pct / 100 * self.wall_s / self.count * 1000 if self.count else 0.0


def measure_raw(target: LoopbackTarget, users: int, seconds: float) -> Phase:
    environment = Environment(user_classes=[RawChatUser], events=Events(), host=target.url, stop_timeout=0)
    runner = environment.create_local_runner()
    watch = CpuWatch().start()
    runner.start(users, spawn_rate=users)
    gevent.sleep(WARMUP_S)  # the window starts once every user is connected and running
    before = environment.stats.total.num_requests
    failed_before = environment.stats.total.num_failures
    clock = WindowClock(target.pid)
    gevent.sleep(seconds)
    window = clock.read()
    count = environment.stats.total.num_requests - before
    failures = environment.stats.total.num_failures - failed_before
    runner.quit()
    watch.stop()
    return Phase(
        "raw FastHttpUser",
        count,
        failures,
        window.wall_s,
        window.cpu_pct,
        window.target_cpu_pct,
        watch.warning_logged or runner.cpu_warning_emitted,
        loop_cpu_pct=window.loop_cpu_pct,
    )


def measure_convoload(
    target: LoopbackTarget, users: int, seconds: float, turns: int, runs_dir: str, **variant: bool
) -> Phase:
    context = RunContext(bench_config("http", target.url, turns, runs_dir, **variant))
    counts = {"turns": 0, "failed": 0}

    def on_reply(_event: ReplyReceived) -> None:
        counts["turns"] += 1

    def on_failed(_event: TurnFailed) -> None:
        counts["failed"] += 1

    context.bus.subscribe(ReplyReceived, on_reply)
    context.bus.subscribe(TurnFailed, on_failed)
    watch = CpuWatch().start()
    try:
        running = gevent.spawn(run_for, context, SteadyShape(users, WARMUP_S + seconds), drain_s=30)
        gevent.sleep(WARMUP_S)
        before = dict(counts)
        clock = WindowClock(target.pid)
        gevent.sleep(seconds)
        window = clock.read()
        after = dict(counts)
        running.get()
    finally:
        watch.stop()
        context.close()
    return Phase(
        "convoload scripted turns",
        after["turns"] - before["turns"],
        after["failed"] - before["failed"],
        window.wall_s,
        window.cpu_pct,
        window.target_cpu_pct,
        watch.warning_logged,
        conversations=context.aggregator.document(conversations=False)["summary"]["total_conversations"],
        loop_cpu_pct=window.loop_cpu_pct,
    )


def measure(
    users: int, seconds: float, turns: int, only: str | None = None, **variant: bool
) -> tuple[Phase | None, Phase | None]:
    """Both phases; `only` runs one of them (for profiling)."""
    raise_fd_limit(4 * users + 256)
    with LoopbackTarget(0.0, turns) as target, tempfile.TemporaryDirectory() as runs_dir:
        raw = measure_raw(target, users, seconds) if only in (None, "raw") else None
        ours = None
        if only in (None, "convoload"):
            ours = measure_convoload(target, users, seconds, turns, runs_dir, **variant)
    return raw, ours


def print_results(raw: Phase, ours: Phase, users: int, seconds: float, turns: int) -> None:
    print(
        f"\nthroughput: {users} users, no wait time, {seconds:g} s window after {WARMUP_S:g} s warm-up, "
        f"zero-delay loopback target; {turns}-turn conversations; {machine_load()}\n"
    )
    rows = [
        (
            p.name,
            p.count,
            p.failures,
            f"{p.per_s:.0f}/s",
            f"{p.cpu_ms_each:.3f} ms",
            f"{p.loop_cpu_ms_each:.3f} ms",
            f"{p.cpu_pct:.0f}%",
            f"{p.target_cpu_pct:.0f}%",
            "yes" if p.cpu_warning else "no",
        )
        for p in (raw, ours)
    ]
    columns = (
        "",
        "count",
        "failures",
        "rate",
        "CPU each",
        "event loop each",
        "harness CPU",
        "target CPU",
        "CPU warning",
    )
    print_table(columns, rows)
    ratio = ours.per_s / raw.per_s if raw.per_s else 0.0
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"\nratio turns/s : requests/s = {ratio:.2f} (goal >= {GOAL_RATIO}: {verdict})")
    cpu_ratio = raw.cpu_ms_each / ours.cpu_ms_each if ours.cpu_ms_each else 0.0
    print(f"ratio at equal harness CPU (CPU per request / CPU per turn) = {cpu_ratio:.2f}")
    print(f"conversations started: {ours.conversations}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50, help="Locust users in both phases")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per phase")
    parser.add_argument("--turns", type=int, default=10, help="turns per conversation")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (for load_suite.py)")
    parser.add_argument("--only", choices=("raw", "convoload"), help="run one phase (for profiling)")
    parser.add_argument("--no-store", action="store_true", help="results database off (to attribute costs)")
    parser.add_argument("--no-hooks", action="store_true", help="built-in hooks off (to attribute costs)")
    args = parser.parse_args()
    quiet_locust_spawn_notice()
    variant = {"store": not args.no_store, "hooks": not args.no_hooks}
    raw, ours = measure(args.users, args.seconds, args.turns, args.only, **variant)
    if raw is None or ours is None:
        for phase in (raw, ours):
            if phase is not None:
                print(f"{phase.name}: {phase.per_s:.0f}/s, {phase.cpu_ms_each:.3f} ms CPU each ", end="")
                print(f"({phase.loop_cpu_ms_each:.3f} ms in the event loop), ", end="")
                print(f"CPU {phase.cpu_pct:.0f}%", end="")
                print(f", target {phase.target_cpu_pct:.0f}%")
        return
    if args.json:
        print(
            json.dumps(
                {
                    p: {**asdict(f), "cpu_ms_each": f.cpu_ms_each, "loop_cpu_ms_each": f.loop_cpu_ms_each}
                    for p, f in (("raw", raw), ("convoload", ours))
                }
            )
        )
    else:
        print_results(raw, ours, args.users, args.seconds, args.turns)


if __name__ == "__main__":
    main()
