"""Harness overhead per turn and webhook detection delay (not a test: it prints figures).

  python benchmarks/overhead.py [--conversations 200] [--turns 10] [--delay 0.5]

A loopback target in its own process replies after a known fixed delay. For the
`http` and `webhook` connectors it runs N concurrent conversations of T turns
through the real engine (Locust LocalRunner, scripted users, event bus, journal)
and prints, per turn:
  overhead  = measured turn latency - the time the target really held the turn
              (loopback HTTP both ways, our client, the target's request parsing, the
              receiver and, for webhooks, the target's own callback request: an upper
              bound on what convoload adds)
  detection = callback parsed by our receiver -> waiting conversation resumed (webhook)
Goals: overhead p50 <= 1 ms and p99 <= 5 ms; detection p99 <= 5 ms.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from convoload.config import Config  # noqa: E402
from convoload.load.context import RunContext  # noqa: E402
from convoload.load.engine import run_load  # noqa: E402
from convoload.report.aggregate import distribution  # noqa: E402

HERE = Path(__file__).resolve().parent


class Recorder:
    """Wraps a target to collect, per turn, the target's own hold time and the receiver's wake-up delay."""

    def __init__(self, target):
        self._target = target
        self.wake_ms: list[float] = []
        self.overhead_ms: list[float] = []
        self.later_ms: list[float] = []

    def send(self, session, text, iteration):
        reply = self._target.send(session, text, iteration)
        if reply.wake_ms is not None:
            self.wake_ms.append(reply.wake_ms)
        held = reply.raw[-1]["held_ms"] if isinstance(reply.raw, list) else reply.raw["held_ms"]
        self.overhead_ms.append(reply.latency_ms - held)
        if iteration > 1:  # later turns reuse connections; first turns also pay for TCP connects
            self.later_ms.append(reply.latency_ms - held)
        return reply

    def __getattr__(self, name):
        return getattr(self._target, name)


def start_target(delay: float, turns: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "loopback_target.py"), "--delay", str(delay), "--turns", str(turns)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise SystemExit(f"loopback target did not start: {line!r}")
    return process, line.split()[1]


def process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by another process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    kind: str, url: str, target_pid: int, conversations: int, turns: int, delay: float, runs_dir: str
) -> dict:
    body = {"session_id": "{session_id}", "text": "{text}", "iteration": "{iteration}"}
    if kind == "webhook":
        body["webhook"] = "{webhook_url}"
    config = Config.model_validate(
        {
            "run": {"seed": 1, "runs_dir": runs_dir, "max_iterations": turns},
            "personas": ["kataryna"],
            "target": {
                "type": kind,
                "url": f"{url}/{'webhook' if kind == 'webhook' else 'chat'}",
                "body": body,
                "reply_path": "reply" if kind == "http" else "text",
                "timeout_s": 60,
            },
        }
    )
    context = RunContext(config)
    recorder = Recorder(context.target)
    context.target = recorder
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    target_cpu_before = process_cpu_s(target_pid)
    started = time.perf_counter()
    try:
        # Start conversations spread over one reply delay, so turns arrive evenly rather than in lockstep.
        run_load(context, conversations, conversations, ramp_up_s=delay)
    finally:
        context.close()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    target_cpu = process_cpu_s(target_pid) - target_cpu_before
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    summary = context.aggregator.document()["summary"]
    overhead = recorder.overhead_ms
    goal = summary["successful_conversations"]
    return {
        "kind": kind,
        "conversations": summary["total_conversations"],
        "goal": goal,
        "turns": len(overhead),
        "overhead": distribution(overhead),
        "later": distribution(recorder.later_ms),
        "detection": distribution(recorder.wake_ms),
        "cpu_pct": 100 * cpu / wall,
        "target_cpu_pct": 100 * target_cpu / wall,
        "wall_s": wall,
        "turns_per_s": len(overhead) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200, help="concurrent conversations")
    parser.add_argument("--turns", type=int, default=10, help="turns per conversation")
    parser.add_argument("--delay", type=float, default=0.5, help="target's fixed reply delay, seconds")
    args = parser.parse_args()

    process, url = start_target(args.delay, args.turns)
    try:
        with tempfile.TemporaryDirectory() as runs_dir:
            results = [
                measure(kind, url, process.pid, args.conversations, args.turns, args.delay, runs_dir)
                for kind in ("http", "webhook")
            ]
    finally:
        process.kill()

    print(
        f"\nconvoload overhead: {args.conversations} concurrent conversations x {args.turns} turns, "
        f"target delay {args.delay * 1000:.0f} ms, harness in one process\n"
    )
    columns = ("", "turns", "goal", "p50", "p90", "p99", "max", "turns/s", "CPU", "target CPU")
    rows = []
    for r in results:
        o = r["overhead"]
        rows.append(
            (
                f"{r['kind']} overhead",
                r["turns"],
                r["goal"],
                *(f"{o[k]:.2f} ms" for k in ("p50", "p90", "p99", "max")),
                f"{r['turns_per_s']:.0f}",
                f"{r['cpu_pct']:.0f}%",
                f"{r['target_cpu_pct']:.0f}%",
            )
        )
    for r in results:
        o = r["later"]
        rows.append(
            (
                "  turns 2+",
                o["count"],
                "",
                *(f"{o[k]:.2f} ms" for k in ("p50", "p90", "p99", "max")),
                "",
                "",
                "",
            )
        )
    d = results[1]["detection"]
    rows.append(
        (
            "webhook detection",
            d["count"],
            "",
            *(f"{d[k]:.2f} ms" for k in ("p50", "p90", "p99", "max")),
            "",
            "",
            "",
        )
    )
    widths = [max(len(str(row[i])) for row in (columns, *rows)) for i in range(len(columns))]
    for row in (columns, *rows):
        print(
            "  ".join(
                str(cell).ljust(w) if i == 0 else str(cell).rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print("\ngoals: overhead p50 <= 1 ms, p99 <= 5 ms; webhook detection p99 <= 5 ms")


if __name__ == "__main__":
    main()
