"""Concurrency: 2,000 webhook conversations in flight at once in one worker process.

  python benchmarks/concurrency.py [--conversations 2000] [--turns 5] [--hold 10] [--json]

The loopback target (its own process) acknowledges each turn at once and calls back after --hold
seconds; conversations start spread over one hold, so after that every one of them is waiting for a
callback at the same time. Through the real engine (Locust LocalRunner, scripted users, receiver,
event bus, hooks, journal, results store) it measures:
  memory      peak RSS of this process during the run minus its RSS just before (after a warm-up
              run, so imports and first-use caches are not counted), per conversation
  CPU warning whether Locust's runner logged its "CPU usage above 90%" warning (it samples every
              10 s; we sample the same way and print the highest figure)
  callbacks   sent by the target vs accepted by our receiver; rejected ones by verdict; turns that
              timed out waiting; any difference is a lost callback
  overhead    turn latency minus the target's hold, and detection (callback parsed -> user resumed)
The fd limit is raised first: each conversation holds a client socket and a callback socket in this
process, and as many in the target.
Goals: <= 150 KB RSS per conversation, no CPU warning, 0 lost callbacks, overhead p50 <= 1 ms,
p99 <= 5 ms, detection p99 <= 5 ms.
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
)
from convoload.errors import ConfigError  # noqa: E402
from convoload.load.openfiles import ensure_open_files  # noqa: E402

GOAL_KB_PER_CONVERSATION = 150
WARMUP_CONVERSATIONS = 50


def measure(
    conversations: int, turns: int, hold: float, callback_pool: int = 0, **variant: bool
) -> tuple[ConversationRun, dict]:
    # What a run does (convoload.load.openfiles), plus this process's share of the target's connections.
    try:
        pooled = callback_pool > 0
        ensure_open_files(conversations, callbacks=not pooled, source="benchmark", field="--conversations")
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    raise_fd_limit(2 * conversations + 256)  # the target inherits it: a client and a callback side each
    with tempfile.TemporaryDirectory() as runs_dir:
        # Warm-up against a zero-delay target: imports, Locust's runner, first-use caches.
        with LoopbackTarget(0.0, turns) as warm:
            run_conversations("webhook", warm, WARMUP_CONVERSATIONS, turns, 0.0, runs_dir, **variant)
        with LoopbackTarget(hold, turns, callback_pool=callback_pool) as target:
            result = run_conversations("webhook", target, conversations, turns, hold, runs_dir, **variant)
            sent = target.stats()
    return result, sent


def lost_callbacks(result: ConversationRun, sent: dict) -> dict:
    received = {k.removeprefix("callbacks_"): v for k, v in result.target_stats.items()}
    accepted = received.get("accepted", 0)
    return {
        "sent": sent.get("callbacks_sent", 0),
        "send_failed": sent.get("callbacks_failed", 0),
        "accepted": accepted,
        "rejected": {k: v for k, v in received.items() if k != "accepted" and v},
        "webhook_timeouts": result.summary["errors_by_kind"].get("webhook_timeout", 0),
        "lost": sent.get("callbacks_sent", 0) + sent.get("callbacks_failed", 0) - accepted,
    }


def figures(result: ConversationRun, sent: dict) -> dict:
    growth = result.peak_rss_kb - result.baseline_rss_kb
    return {
        "conversations": result.conversations,
        "goal_reached": result.summary["successful_conversations"],
        "turns": result.turns,
        "turns_per_s": result.turns_per_s,
        "baseline_rss_kb": result.baseline_rss_kb,
        "peak_rss_kb": result.peak_rss_kb,
        "kb_per_conversation": growth / result.conversations,
        "cpu_warning": result.cpu.warning_logged,
        "cpu_samples_pct": result.cpu.cpu_samples,
        "cpu_pct": result.window.cpu_pct,
        "target_cpu_pct": result.window.target_cpu_pct,
        "callbacks": lost_callbacks(result, sent),
        "overhead": result.overhead,
        "detection": result.detection,
        "errors": result.summary["errors_by_kind"],
        "hub": result.hub.summary(result.recorder.window),  # while conversations were in flight
    }


def print_results(f: dict, hold: float, turns: int) -> None:
    print(
        f"\nconcurrency: {f['conversations']} webhook conversations x {turns} turns in one process, "
        f"target holds each turn {hold:g} s; {machine_load()}\n"
    )
    cb = f["callbacks"]
    samples = ", ".join(f"{s:.0f}%" for s in f["cpu_samples_pct"]) or "none (run under 20 s)"
    rows = [
        ("RSS per conversation", f"{f['kb_per_conversation']:.1f} KB", f"<= {GOAL_KB_PER_CONVERSATION} KB"),
        (
            "  baseline -> peak RSS",
            f"{f['baseline_rss_kb'] / 1024:.0f} -> {f['peak_rss_kb'] / 1024:.0f} MB",
            "",
        ),
        ("Locust CPU warning", "yes" if f["cpu_warning"] else "no", "no"),
        ("  CPU samples (10 s)", samples, "<= 90%"),
        ("callbacks sent / accepted", f"{cb['sent']} / {cb['accepted']}", "equal"),
        ("lost callbacks", cb["lost"], "0"),
        ("  send failures, rejected", f"{cb['send_failed']}, {cb['rejected'] or 0}", "0"),
        ("  webhook timeouts", cb["webhook_timeouts"], "0"),
        ("goal reached", f"{f['goal_reached']} / {f['conversations']}", "all"),
        (
            "overhead p50 / p99",
            f"{ms(f['overhead'].get('p50'))} / {ms(f['overhead'].get('p99'))}",
            "1 / 5 ms",
        ),
        (
            "detection p50 / p99",
            f"{ms(f['detection'].get('p50'))} / {ms(f['detection'].get('p99'))}",
            "- / 5 ms",
        ),
        (
            "turns/s, CPU, target CPU",
            f"{f['turns_per_s']:.0f}, {f['cpu_pct']:.0f}%, {f['target_cpu_pct']:.0f}%",
            "",
        ),
    ]
    print_table(("", "measured", "goal"), rows)
    lag, gcs = f["hub"]["lag_ms"], f["hub"]["gc"]
    print(
        "\nfrom the first turn sent to the last reply: "
        f"event-loop lag p50/p99/max {ms(lag.get('p50'))} / {ms(lag.get('p99'))} / {ms(lag.get('max'))}; "
        + "; ".join(
            f"gc gen{g}: {v['count']} runs, {v['total_ms']:.0f} ms, max {v['max_ms']:.0f} ms"
            for g, v in gcs.items()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=2000, help="conversations in flight at once")
    parser.add_argument("--turns", type=int, default=5, help="turns per conversation")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds the target holds each turn")
    parser.add_argument(
        "--callback-pool",
        type=int,
        default=0,
        help="the target delivers callbacks over this many shared connections (0: one per conversation)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (for load_suite.py)")
    parser.add_argument("--no-store", action="store_true", help="results database off (to attribute costs)")
    parser.add_argument("--no-hooks", action="store_true", help="built-in hooks off (to attribute costs)")
    args = parser.parse_args()
    quiet_locust_spawn_notice()
    variant = {"store": not args.no_store, "hooks": not args.no_hooks}
    result, sent = measure(args.conversations, args.turns, args.hold, args.callback_pool, **variant)
    f = figures(result, sent)
    if args.json:
        print(json.dumps(f))
    else:
        print_results(f, args.hold, args.turns)


if __name__ == "__main__":
    main()
