"""Distributed runs: master + 2 Locust workers against 1 worker, same users, same conversations.

  python benchmarks/distributed.py [--conversations 400] [--users 40]

The bundled ticket agent (webhook widget API) runs once, in its own process; each run is the real
`locust` command with convoload's locustfile (`convoload run --workers N` does the same), with a
receiver per worker. For each run it prints throughput and checks the merge: the master's
aggregate must count exactly the conversations, turns, goals, failures and interrupted
conversations that the workers' journals hold, and both runs must finish every conversation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from convoload.load.distributed import run_arguments, run_cluster
from convoload_demo.tickets.launcher import DemoTicketServer
from convoload_demo.tickets.settings import TicketServerSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchtable import print_table


def journal_counts(run_dir: Path) -> dict[str, int]:
    counts = {"conversations": 0, "turns": 0, "goal_reached": 0, "interrupted": 0}
    for journal in run_dir.glob("worker-*/**/journal.jsonl"):
        for line in journal.read_text(encoding="utf-8").splitlines():
            summary = json.loads(line)["summary"]
            counts["conversations"] += 1
            counts["turns"] += summary["iterations"]
            counts["goal_reached"] += summary["goal_reached"]
            counts["interrupted"] += summary["outcome"] == "interrupted"
    return counts


def aggregate_counts(document: dict) -> dict[str, int]:
    s = document["summary"]
    return {
        "conversations": s["total_conversations"],
        "turns": s["total_turns"],
        "goal_reached": s["successful_conversations"],
        "interrupted": s["interrupted_conversations"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=400)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        DemoTicketServer(TicketServerSettings(reply_delay_s=0.05, jitter_s=0.0)) as agent,
    ):
        config = Path(tmp) / "cfg.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "run": {"seed": 11},
                    "personas": ["kataryna", "talliz", "edman"],
                    "store": {"enabled": False},
                    "target": {
                        "type": "webhook",
                        "preset": "widget",
                        "url": agent.widget_url,
                        "variables": {"channel_id": "bench"},
                    },
                }
            ),
            encoding="utf-8",
        )
        for workers in (1, 2):
            options, master = run_arguments(
                config=str(config), conversations=args.conversations, concurrency=args.users, seed=11
            )
            started = time.perf_counter()
            with open(os.devnull, "w") as quiet:  # Locust's own tables: the figures here are ours
                result = run_cluster(
                    workers, options, [*master, "--exit-code-on-error", "0"], runs_dir=tmp, output=quiet
                )
            seconds = time.perf_counter() - started
            document = result.aggregate()
            if document is None:
                raise SystemExit(
                    f"{workers} worker(s): no aggregate (exit {result.exit_code}), see {result.run_dir}"
                )
            merged, journals = aggregate_counts(document), journal_counts(result.run_dir)
            rows.append(
                [
                    f"{workers} worker(s)",
                    merged["conversations"],
                    merged["turns"],
                    merged["goal_reached"],
                    merged["interrupted"],
                    f"{seconds:.1f} s",
                    f"{merged['turns'] / seconds:.0f}",
                    "yes" if merged == journals else f"NO: journals say {journals}",
                ]
            )
    print(f"{args.conversations} conversations, {args.users} users, ticket agent replying after 50 ms")
    print_table(
        [
            "run",
            "conversations",
            "turns",
            "goal reached",
            "interrupted",
            "wall time",
            "turns/s",
            "master = workers",
        ],
        rows,
    )
    same = rows[0][1] == rows[1][1] == args.conversations and rows[0][3] == rows[1][3]
    print(f"every conversation ran and reached its goal in both: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
