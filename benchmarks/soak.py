"""Soak: scripted conversations for minutes on end at the highest rate the loopback target sustains.

  python benchmarks/soak.py [--minutes 10] [--users 50] [--turns 10] [--json]

A zero-delay loopback target in its own process answers POST /chat; here, Locust's real LocalRunner
(`run_for` with a steady shape, no wait time) holds --users conversations back to back, recorded as a
run records them (event bus, hooks, journal, results store, aggregate). The process's resident set
is read (after a full garbage collection) at minutes 2, 5 and 10 (the same fractions of --minutes
when it is shorter), with the turns and conversations finished by then; the bytes retained per
finished turn are the RSS grown from the first reading to the last over the turns finished between.
Goal: RSS at the end within 10 % of the first reading.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import gevent  # noqa: E402

from benchkit import (  # noqa: E402
    CpuWatch,
    LoopbackTarget,
    bench_config,
    machine_load,
    print_table,
    quiet_locust_spawn_notice,
    raise_fd_limit,
    rss_kb,
)
from convoload.events import ConversationFinished, ReplyReceived, TurnFailed  # noqa: E402
from convoload.load.context import RunContext  # noqa: E402
from convoload.load.engine import run_for  # noqa: E402
from convoload.load.shapes import SteadyShape  # noqa: E402

GOAL_GROWTH = 0.10  # RSS at the end within 10 % of the first reading
MARKS = (2, 5, 10)  # minutes of the default 10-minute soak


@dataclass
class Reading:
    minute: float
    rss_kb: int
    turns: int
    conversations: int
    failed_turns: int


def soak(minutes: float, users: int, turns: int) -> tuple[list[Reading], bool, int]:
    """The readings at the marks, whether Locust warned of CPU, and the RSS after the aggregate was
    written at the end (its list of conversations read back from the journal)."""
    raise_fd_limit(4 * users + 256)
    marks = [minutes * m / MARKS[-1] for m in MARKS]
    counts = {"turns": 0, "conversations": 0, "failed": 0}
    readings: list[Reading] = []
    with LoopbackTarget(0.0, turns) as target, tempfile.TemporaryDirectory() as runs_dir:
        context = RunContext(bench_config("http", target.url, turns, runs_dir))
        context.bus.subscribe(ReplyReceived, lambda _e: counts.__setitem__("turns", counts["turns"] + 1))
        context.bus.subscribe(TurnFailed, lambda _e: counts.__setitem__("failed", counts["failed"] + 1))
        context.bus.subscribe(
            ConversationFinished,
            lambda _e: counts.__setitem__("conversations", counts["conversations"] + 1),
        )
        watch = CpuWatch().start()
        try:
            # A little longer than the last mark, so that the last reading is taken under load.
            running = gevent.spawn(run_for, context, SteadyShape(users, minutes * 60 + 5), drain_s=30)
            started = time.monotonic()
            for mark in marks:
                gevent.sleep(max(0.0, started + mark * 60 - time.monotonic()))
                gc.collect()
                readings.append(
                    Reading(mark, rss_kb(), counts["turns"], counts["conversations"], counts["failed"])
                )
            running.get()
            context.aggregate()
            after_aggregate = rss_kb()
        finally:
            watch.stop()
            context.close()
    return readings, watch.warning_logged, after_aggregate


def retained_per_turn(readings: list[Reading]) -> float:
    first, last = readings[0], readings[-1]
    turns = last.turns - first.turns
    return (last.rss_kb - first.rss_kb) * 1024 / turns if turns else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    parser.add_argument("--users", type=int, default=50, help="Locust users, no wait time")
    parser.add_argument("--turns", type=int, default=10, help="turns per conversation")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    quiet_locust_spawn_notice()
    readings, cpu_warning, after_aggregate = soak(args.minutes, args.users, args.turns)
    first, last = readings[0], readings[-1]
    growth = (last.rss_kb - first.rss_kb) / first.rss_kb
    per_turn = retained_per_turn(readings)
    if args.json:
        print(
            json.dumps(
                {
                    "readings": [asdict(r) for r in readings],
                    "growth": growth,
                    "bytes_retained_per_turn": per_turn,
                    "rss_kb_after_aggregate": after_aggregate,
                    "cpu_warning": cpu_warning,
                }
            )
        )
        return
    print(
        f"\nsoak: {args.minutes:g} min, {args.users} users, no wait time, zero-delay loopback target; "
        f"{args.turns}-turn conversations; {machine_load()}\n"
    )
    print_table(
        ("minute", "RSS", "turns finished", "turns/s so far", "conversations", "failed turns"),
        [
            (
                f"{r.minute:g}",
                f"{r.rss_kb / 1024:.1f} MB",
                r.turns,
                f"{r.turns / (r.minute * 60):.0f}",
                r.conversations,
                r.failed_turns,
            )
            for r in readings
        ],
    )
    verdict = "met" if growth <= GOAL_GROWTH else "NOT met"
    print(
        f"\nRSS at minute {last.minute:g} vs minute {first.minute:g}: {100 * growth:+.1f} % "
        f"(goal within {100 * GOAL_GROWTH:.0f} %: {verdict})"
    )
    print(f"bytes retained per finished turn (minute {first.minute:g} to {last.minute:g}): {per_turn:.1f}")
    print(f"RSS after writing the aggregate: {after_aggregate / 1024:.1f} MB")
    print(f"Locust CPU warning: {'yes' if cpu_warning else 'no'}")


if __name__ == "__main__":
    main()
