"""Harness overhead per turn and webhook detection delay (not a test: it prints figures).

  python benchmarks/overhead.py [--conversations 200] [--turns 10] [--delay 0.5] [--json]
  python benchmarks/overhead.py --conversations 2000 --turns 5 --delay 10

A loopback target in its own process replies after a known fixed delay. For the
`http` and `webhook` connectors it runs N concurrent conversations of T turns
through the real engine (Locust LocalRunner, scripted users, event bus, journal)
and prints, per turn:
  overhead  = measured turn latency - the time the target really held the turn
              (loopback HTTP both ways, our client, the target's request parsing, the
              receiver and, for webhooks, the target's own callback request: an upper
              bound on what convoload adds)
  detection = callback parsed by our receiver -> waiting conversation resumed (webhook)
  floor     = the overhead of the same turns with no convoload code on our side (plain greenlets,
              the same HTTP client, a bare receiver): what loopback, this machine and the target
              cost anyway; the difference is what convoload adds
The turn rate is N / delay: keep it the same when comparing concurrency levels.
Goals: overhead p50 <= 1 ms and p99 <= 5 ms; detection p99 <= 5 ms.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

from benchkit import (  # noqa: E402
    ConversationRun,
    LoopbackTarget,
    machine_load,
    ms,
    print_table,
    quiet_locust_spawn_notice,
    raise_fd_limit,
    run_conversations,
    run_floor,
)

GOALS = {"overhead_p50_ms": 1.0, "overhead_p99_ms": 5.0, "detection_p50_ms": 1.0, "detection_p99_ms": 5.0}


def measure_all(
    conversations: int, turns: int, delay: float, **variant: bool
) -> tuple[list[ConversationRun], dict[str, dict]]:
    """convoload's runs, then the floor (the same turns without convoload) for each connector."""
    raise_fd_limit(4 * conversations + 256)
    with LoopbackTarget(delay, turns) as target, tempfile.TemporaryDirectory() as runs_dir:
        kinds = ("http", "webhook")
        runs = [
            run_conversations(kind, target, conversations, turns, delay, runs_dir, **variant)
            for kind in kinds
        ]
        floors = {kind: run_floor(kind, target, conversations, turns, delay) for kind in kinds}
    return runs, floors


def figures(results: list[ConversationRun], floors: dict[str, dict]) -> dict:
    """The numbers the suite's table needs, JSON-ready."""
    out = {}
    for r in results:
        out[r.kind] = {
            "floor": floors[r.kind],
            "conversations": r.summary["total_conversations"],
            "goal_reached": r.summary["successful_conversations"],
            "turns": r.turns,
            "turns_per_s": r.turns_per_s,
            "overhead": r.overhead,
            "later": r.later,
            "detection": r.detection,
            "cpu_pct": r.window.cpu_pct,
            "target_cpu_pct": r.window.target_cpu_pct,
            "errors": r.summary["errors_by_kind"],
        }
    return out


def print_results(
    results: list[ConversationRun], floors: dict[str, dict], conversations: int, turns: int, delay: float
) -> None:
    print(
        f"\nconvoload overhead: {conversations} concurrent conversations x {turns} turns, "
        f"target delay {delay * 1000:.0f} ms, harness in one process; {machine_load()}\n"
    )
    columns = ("", "turns", "goal", "p50", "p90", "p99", "max", "turns/s", "CPU", "target CPU")
    quantiles = ("p50", "p90", "p99", "max")
    rows: list[tuple] = []
    for r in results:
        rows.append(
            (
                f"{r.kind} overhead",
                r.turns,
                r.summary["successful_conversations"],
                *(ms(r.overhead.get(k)) for k in quantiles),
                f"{r.turns_per_s:.0f}",
                f"{r.window.cpu_pct:.0f}%",
                f"{r.window.target_cpu_pct:.0f}%",
            )
        )
    for r in results:
        rows.append(
            ("  turns 2+", r.later["count"], "", *(ms(r.later.get(k)) for k in quantiles), "", "", "")
        )
    for kind, floor in floors.items():
        rows.append((f"{kind} floor", floor["count"], "", *(ms(floor.get(k)) for k in quantiles), "", "", ""))
    d = results[-1].detection
    rows.append(("webhook detection", d["count"], "", *(ms(d.get(k)) for k in quantiles), "", "", ""))
    print_table(columns, rows)
    print("\ngoals: overhead p50 <= 1 ms, p99 <= 5 ms; webhook detection p99 <= 5 ms")
    print("floor: the same turns from plain greenlets and a bare receiver, no convoload code (see run_floor)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200, help="concurrent conversations")
    parser.add_argument("--turns", type=int, default=10, help="turns per conversation")
    parser.add_argument("--delay", type=float, default=0.5, help="target's fixed reply delay, seconds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (for load_suite.py)")
    parser.add_argument("--no-store", action="store_true", help="results database off (to attribute costs)")
    parser.add_argument("--no-hooks", action="store_true", help="built-in hooks off (to attribute costs)")
    args = parser.parse_args()
    quiet_locust_spawn_notice()
    variant = {"store": not args.no_store, "hooks": not args.no_hooks}
    results, floors = measure_all(args.conversations, args.turns, args.delay, **variant)
    if args.json:
        print(json.dumps(figures(results, floors)))
    else:
        print_results(results, floors, args.conversations, args.turns, args.delay)


if __name__ == "__main__":
    main()
