"""Simulated-user tokens and cost per conversation, per turn, and what replay saves (prints figures).

  python benchmarks/llm_cost.py [--conversations 30] [--model gemini-2.5-flash]

LLM-driven customers (the bundled local provider playing the built-in personas,
priced with the shipped table as the named model) buy tickets from the demo
assistant in process. The first table shows how the prompt grows with every
turn, since each call resends the whole conversation, and so drives the cost.
The second run repeats the suite with --replay on the recorded cache; goal:
its simulator tokens are <= 5 % of the first run's.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import tempfile  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

from convoload.config import Config  # noqa: E402
from convoload.events import LLMCalled  # noqa: E402
from convoload.load.context import RunContext  # noqa: E402
from convoload.load.engine import run_load  # noqa: E402
from convoload_demo.llmserver.launcher import LocalLLMServer  # noqa: E402


def run(
    server: LocalLLMServer, model: str, conversations: int, workdir: Path, replay: bool
) -> tuple[dict, dict]:
    config = Config.model_validate(
        {
            "run": {"seed": 7, "runs_dir": str(workdir / "runs"), "persona_assignment": "round_robin"},
            "user": {"type": "llm"},
            "llm": {
                "providers": [{"name": "local", "model": model, "base_url": server.base_url, "free": False}],
                "cache_path": str(workdir / "cache.sqlite"),
                "replay": replay,
            },
            "target": {"type": "python", "function": "convoload_demo.tickets.inprocess:reply"},
        }
    )
    context = RunContext(config)
    per_turn: dict[int, list[LLMCalled]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)

    def on_call(event: LLMCalled) -> None:
        seen[event.session_id] += 1
        per_turn[seen[event.session_id]].append(event)

    context.bus.subscribe(LLMCalled, on_call)
    try:
        run_load(context, conversations, min(conversations, 10))
        return context.aggregate(), per_turn
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument(
        "--model", default="gemini-2.5-flash", help="price-table model the local provider poses as"
    )
    args = parser.parse_args()
    with LocalLLMServer() as server, tempfile.TemporaryDirectory() as tmp:
        first, per_turn = run(server, args.model, args.conversations, Path(tmp), replay=False)
        second, _ = run(server, args.model, args.conversations, Path(tmp), replay=True)

    s = first["summary"]
    print(
        f"\nLLM users: {s['total_conversations']} conversations, {s['successful_conversations']} reached "
        f"the goal, model priced as {args.model}\n"
    )
    print(
        f"{'turn':>4} {'calls':>6} {'prompt tok':>11} {'cached':>8} {'output tok':>11} {'cost/call US$':>14} "
        f"{'cumulative US$':>15}"
    )
    cumulative = 0.0
    for turn in sorted(per_turn):
        calls = per_turn[turn]
        n = len(calls)
        cost = sum(c.cost_usd for c in calls) / n
        cumulative += cost
        prompt = sum(c.prompt_tokens for c in calls) / n
        cached = sum(c.cached_tokens for c in calls) / n
        output = sum(c.completion_tokens for c in calls) / n
        row = f"{turn:>4} {n:>6} {prompt:>11.0f} {cached:>8.0f} {output:>11.0f}"
        print(f"{row} {cost:>14.6f} {cumulative:>15.6f}")
    print(
        f"\nper conversation: {s['tokens_per_conversation']:.0f} tokens, "
        f"US$ {s['cost_per_conversation_usd']:.6f}; run: {s['tokens']['total']} tokens, "
        f"US$ {s['total_cost_usd']:.6f}"
    )
    r = second["summary"]
    ratio = 100 * r["tokens"]["total"] / s["tokens"]["total"] if s["tokens"]["total"] else 0.0
    print(
        f"replay run: {r['llm']['replayed_calls']} calls replayed ({r['llm']['replayed_pct']:.1f}%), "
        f"{r['llm']['calls']} sent to the provider; simulator tokens {r['tokens']['total']} = {ratio:.1f}% "
        f"of the first run (goal <= 5%); saved {r['llm']['saved_tokens']} tokens, "
        f"US$ {r['llm']['saved_cost_usd']:.6f}"
    )


if __name__ == "__main__":
    main()
