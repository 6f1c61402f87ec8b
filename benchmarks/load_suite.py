"""The load benchmarks in one command, as one table with goals (about four minutes).

  python benchmarks/load_suite.py [--quick] [--json PATH]

Runs, each in a fresh process (so one's memory and caches do not colour the next):
  throughput.py                      scripted turns/s vs raw FastHttpUser requests/s, same endpoint
  concurrency.py                     2,000 webhook conversations in flight: RSS, CPU warning, callbacks
  overhead.py at 200 and 2,000       overhead and detection at the same turn rate (200 turns/s), each
                                     next to its floor (the same turns without convoload)
The machine's load average is printed with each, since the harness and its target share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchtable import ms, print_table

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> tuple[dict[str, Any], str]:
    """One benchmark in its own process; returns its JSON figures and the load average around it."""
    before = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(HERE / script), "--json", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{script} failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    load = f"{script} {' '.join(args)}: {time.perf_counter() - started:.0f} s, load {before:.2f} -> "
    return figures, load + f"{os.getloadavg()[0]:.2f}"


def check(value: float | None, goal: float) -> str:
    return "-" if value is None else ("yes" if value <= goal else "NO")


def latency_rows(label: str, overhead: dict, detection: dict | None) -> list[tuple]:
    rows = [
        (f"{label} overhead p50", ms(overhead.get("p50")), "<= 1 ms", check(overhead.get("p50"), 1.0)),
        (f"{label} overhead p99", ms(overhead.get("p99")), "<= 5 ms", check(overhead.get("p99"), 5.0)),
    ]
    if detection is not None:
        rows += [
            (f"{label} detection p50", ms(detection.get("p50")), "<= 1 ms", check(detection.get("p50"), 1.0)),
            (f"{label} detection p99", ms(detection.get("p99")), "<= 5 ms", check(detection.get("p99"), 5.0)),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter runs (about three minutes), rougher figures"
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    args = parser.parse_args()
    quick = args.quick
    loads: list[str] = []

    throughput, load = run("throughput.py", "--seconds", "10" if quick else "20")
    loads.append(load)
    concurrency, load = run("concurrency.py", *(("--turns", "3") if quick else ()))
    loads.append(load)
    overhead_200, load = run("overhead.py", "--conversations", "200", "--turns", "10", "--delay", "1")
    loads.append(load)
    overhead_2000, load = run(
        "overhead.py", "--conversations", "2000", "--turns", "3" if quick else "4", "--delay", "10"
    )
    loads.append(load)

    raw, ours = throughput["raw"], throughput["convoload"]
    raw_rate, our_rate = raw["count"] / raw["wall_s"], ours["count"] / ours["wall_s"]
    ratio = our_rate / raw_rate if raw_rate else 0.0
    # What the ratio would be if both phases had the same CPU: robust to a busy machine or target.
    cpu_ratio = raw["cpu_ms_each"] / ours["cpu_ms_each"] if ours["cpu_ms_each"] else 0.0
    cb = concurrency["callbacks"]
    lag, gc_full = concurrency["hub"]["lag_ms"], concurrency["hub"]["gc"]["2"]
    rows: list[tuple] = [
        ("throughput", "", "", ""),
        ("  raw FastHttpUser requests/s", f"{raw_rate:.0f}", "", ""),
        ("  convoload scripted turns/s", f"{our_rate:.0f}", "", ""),
        ("  ratio", f"{ratio:.2f}", ">= 0.5", "yes" if ratio >= 0.5 else "NO"),
        (
            "  harness CPU per request / per turn",
            f"{raw['cpu_ms_each']:.3f} / {ours['cpu_ms_each']:.3f} ms",
            "",
            "",
        ),
        (
            "  event-loop CPU per request / per turn",
            f"{raw['loop_cpu_ms_each']:.3f} / {ours['loop_cpu_ms_each']:.3f} ms",
            "",
            "",
        ),
        ("  ratio at equal harness CPU", f"{cpu_ratio:.2f}", "", ""),
        ("  harness / target CPU, raw", f"{raw['cpu_pct']:.0f}% / {raw['target_cpu_pct']:.0f}%", "", ""),
        ("  harness / target CPU, ours", f"{ours['cpu_pct']:.0f}% / {ours['target_cpu_pct']:.0f}%", "", ""),
        (f"concurrency ({concurrency['conversations']} webhook conversations)", "", "", ""),
        (
            "  RSS per conversation",
            f"{concurrency['kb_per_conversation']:.1f} KB",
            "<= 150 KB",
            "yes" if concurrency["kb_per_conversation"] <= 150 else "NO",
        ),
        (
            "  Locust CPU warning",
            "yes" if concurrency["cpu_warning"] else "no",
            "no",
            "NO" if concurrency["cpu_warning"] else "yes",
        ),
        ("  lost callbacks", f"{cb['lost']} of {cb['sent']}", "0", "yes" if cb["lost"] == 0 else "NO"),
        (
            "  turns that timed out waiting",
            cb["webhook_timeouts"],
            "0",
            "yes" if cb["webhook_timeouts"] == 0 else "NO",
        ),
        *latency_rows("  webhook", concurrency["overhead"], concurrency["detection"]),
        # Both from the first turn sent to the last reply: set-up and tear-down are not turns.
        ("  event-loop lag p99 / max", f"{ms(lag.get('p99'))} / {ms(lag.get('max'))}", "", ""),
        ("  full GC passes while turns ran", f"{gc_full['count']} (longest {ms(gc_full['max_ms'])})", "", ""),
    ]
    for label, figures in (("200", overhead_200), ("2,000", overhead_2000)):
        rows.append((f"overhead, {label} concurrent conversations (200 turns/s)", "", "", ""))
        for kind in ("http", "webhook"):
            detection = figures[kind]["detection"] if kind == "webhook" else None
            rows += latency_rows(f"  {kind}", figures[kind]["overhead"], detection)
            floor = figures[kind]["floor"]
            # The same turns with no convoload code: what loopback, the machine and the target cost anyway.
            quantiles = f"{ms(floor.get('p50'))} / {ms(floor.get('p99'))}"
            rows.append((f"    {kind} floor p50 / p99", quantiles, "", ""))

    print(f"\nconvoload load benchmarks ({'quick' if quick else 'full'}), {os.cpu_count()} cores\n")
    print_table(("", "measured", "goal", "met"), rows)
    print("\nmachine load (1-min load average before -> after each run):")
    for line in loads:
        print(f"  {line}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "throughput": throughput,
                    "concurrency": concurrency,
                    "overhead_200": overhead_200,
                    "overhead_2000": overhead_2000,
                    "loads": loads,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
