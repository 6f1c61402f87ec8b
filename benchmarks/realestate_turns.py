"""Turn latency of the real-estate assistant with its offline brain (prints figures, not a test).

  python benchmarks/realestate_turns.py [--conversations 100] [--concurrency 10] [--listings 10000]

Starts the catalog API and the assistant exactly as `convoload demo --agent realestate`
does and runs the five real-estate personas round robin through the engine. Reported:
turn latency (chat request -> reply, including the swarm's catalog calls) per agent
that answered, and whole-conversation time.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402

from convoload.config import Config  # noqa: E402
from convoload.events import ReplyReceived  # noqa: E402
from convoload.load.context import RunContext  # noqa: E402
from convoload.load.engine import run_load  # noqa: E402
from convoload.model import distribution  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--listings", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        config = Config.model_validate(
            {
                "run": {"seed": 3, "runs_dir": runs, "persona_assignment": "round_robin"},
                "target": {
                    "type": "demo",
                    "demo": {"agent": "realestate", "listings": args.listings, "brain": "rules"},
                },
            }
        )
        context = RunContext(config)
        by_agent: dict[str, list[float]] = defaultdict(list)
        context.bus.subscribe(
            ReplyReceived, lambda e: by_agent[e.turn.agent or "?"].append(e.turn.latency_ms)
        )
        try:
            run_load(context, args.conversations, args.concurrency)
            document = context.aggregate()
        finally:
            context.close()
    s = document["summary"]
    print(
        f"\nreal-estate assistant, offline brain: {s['total_conversations']} conversations "
        f"({s['successful_conversations']} booked a visit), {args.concurrency} at a time, "
        f"{args.listings} listings\n"
    )
    print(f"{'':<22}{'count':>7}{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}")
    rows = [("turn (all agents)", document["latency"]["turn_ms"])]
    rows += [(f"  answered by {agent}", distribution(values)) for agent, values in sorted(by_agent.items())]
    rows.append(("conversation", document["latency"]["conversation_ms"]))
    for label, d in rows:
        print(
            f"{label:<22}{d['count']:>7}" + "".join(f"{d[k]:>8.1f}ms" for k in ("p50", "p95", "p99", "max"))
        )


if __name__ == "__main__":
    main()
