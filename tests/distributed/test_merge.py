"""A master's aggregate, merged from its workers' entries, is the one a single process would build."""

import random
from collections import Counter

from convoload.model import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    TurnError,
    TurnRecord,
    Usage,
    distribution,
)
from convoload.report.aggregate import Aggregator, aggregate, cost_units

PERSONAS = ("Kataryna", "Talliz", "Edman")


def make_records(count: int, seed: int = 7) -> list[ConversationRecord]:
    """Conversations with awkward numbers: µs latencies, 10⁻⁹-dollar costs, every outcome, findings."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        persona = PERSONAS[i % 3]
        outcome = rng.choice(list(Outcome))
        turns = []
        usage = Usage()
        for n in range(1, rng.randint(1, 9)):
            turn_usage = Usage(
                prompt_tokens=rng.randint(100, 900),
                completion_tokens=rng.randint(5, 80),
                cost_usd=rng.uniform(0, 3e-4),
                llm_calls=1,
            )
            turn_usage.total_tokens = turn_usage.prompt_tokens + turn_usage.completion_tokens
            usage.add(turn_usage)
            turn = TurnRecord(iteration=n, user_text="oi", sent_at="t", usage=turn_usage)
            if outcome == Outcome.ERROR and n == 1:
                kind = rng.choice([ErrorKind.WEBHOOK_TIMEOUT, ErrorKind.HTTP_STATUS])
                turn.error = TurnError(
                    kind=kind, message="x", status_code=500 if kind == "http_status" else None
                )
                turn.ack_ms = round(rng.uniform(1, 50), 3)
                turns.append(turn)
                break
            turn.latency_ms = round(rng.lognormvariate(7, 1), 3)
            turn.ack_ms = round(rng.uniform(1, turn.latency_ms), 3)
            turn.agent = rng.choice(["atendimento", "vendas", "pagamento"])
            turns.append(turn)
        records.append(
            ConversationRecord(
                run_id="r",
                session_id=f"s{i}",
                user_id=i + 1,
                persona=persona,
                started_at="t",
                outcome=outcome,
                error=next((t.error for t in turns if t.error), None),
                total_time_ms=round(sum(t.latency_ms or 0 for t in turns) + rng.uniform(0, 9), 3),
                turns=turns,
                usage=usage,
                findings=[
                    Finding(
                        hook=rng.choice(["slow_responses", "short_responses"]),
                        priority="critical",
                        session_id=f"s{i}",
                        persona=persona,
                        message="m",
                    )
                    for _ in range(rng.randint(0, 2))
                ],
            )
        )
    return records


def comparable(document: dict) -> dict:
    """Everything but what depends on arrival order: the list of summaries, and finding examples."""
    out = {k: v for k, v in document.items() if k != "conversations"}
    out["findings"] = {
        **document["findings"],
        "by_hook": {
            k: {**v, "examples": len(v["examples"])} for k, v in document["findings"]["by_hook"].items()
        },
    }
    out["conversations"] = sorted(document["conversations"], key=lambda s: s["session_id"])
    return out


def test_merged_entries_give_exactly_the_single_process_aggregate():
    records = make_records(60)
    single = Aggregator()
    workers = [Aggregator(record_entries=True), Aggregator(record_entries=True)]
    for i, record in enumerate(records):
        single.add(record)
        workers[i % 2].add(record)
        for target in (single, workers[i % 2]):
            target.add_llm_call("local/persona", latency_ms=10.0 + i / 7, cost_usd=1e-6 / 3, prompt_tokens=i)
            if i % 10 == 0:
                target.add_llm_fallback("a -> b (429)")

    master = Aggregator()
    # Batches arrive interleaved and late-first, as reports from two machines do.
    batches = [workers[0].take_entries(), workers[1].take_entries()]
    master.apply(batches[1][:50])
    master.apply(batches[0])
    master.apply(batches[1][50:])
    assert workers[0].take_entries() == [] and workers[1].take_entries() == []  # each entry once

    assert comparable(master.document()) == comparable(single.document())


def test_sums_over_workers_are_exact():
    records = make_records(80, seed=3)
    workers = [Aggregator(record_entries=True) for _ in range(3)]
    for i, record in enumerate(records):
        workers[i % 3].add(record)
    master = Aggregator()
    for worker in reversed(workers):
        master.apply(worker.take_entries())
    merged = master.document()["summary"]
    parts = [w.document()["summary"] for w in workers]
    for key in (
        "total_conversations",
        "successful_conversations",
        "interrupted_conversations",
        "failed_conversations",
        "total_turns",
        "failed_turns",
        "agent_changes",
    ):
        assert merged[key] == sum(p[key] for p in parts), key
    assert merged["tokens"] == {k: sum(p["tokens"][k] for p in parts) for k in parts[0]["tokens"]}
    assert merged["errors_by_kind"] == dict(sum((Counter(p["errors_by_kind"]) for p in parts), Counter()))
    # Costs in integer 10⁻⁸ USD: the sum of the parts, and of the conversations, to the last unit.
    assert cost_units(merged["total_cost_usd"]) == sum(cost_units(p["total_cost_usd"]) for p in parts)
    assert cost_units(merged["total_cost_usd"]) == sum(cost_units(r.usage.cost_usd) for r in records)
    findings = Counter(f.hook for r in records for f in r.findings)
    assert {k: v["count"] for k, v in master.document()["findings"]["by_hook"].items()} == findings


def test_requests_give_exact_percentiles_per_type_and_persona():
    records = make_records(45, seed=11)
    document = aggregate(records)
    ok_turns = [t for r in records for t in r.turns if t.error is None]
    message = document["requests"]["MESSAGE"]
    assert message["all"] == {
        **distribution(t.latency_ms for t in ok_turns),
        "failures": sum(1 for r in records for t in r.turns if t.error),
    }
    talliz = [t.latency_ms for r in records if r.persona == "Talliz" for t in r.turns if t.error is None]
    assert message["by_name"]["Talliz"]["p99"] == distribution(talliz)["p99"]
    webhook = document["requests"]["WEBHOOK"]["all"]
    assert webhook["max"] == round(max(t.latency_ms - t.ack_ms for t in ok_turns), 3)
    assert webhook["failures"] == sum(
        1 for r in records for t in r.turns if t.error and t.error.kind == ErrorKind.WEBHOOK_TIMEOUT
    )
    conversation = document["requests"]["CONVERSATION"]["all"]
    finished = [r.total_time_ms for r in records if r.outcome != Outcome.INTERRUPTED]
    assert conversation["count"] == len(finished) and conversation["p95"] == distribution(finished)["p95"]
    # A conversation the simulated user broke is no failure of the agent's.
    assert conversation["failures"] == sum(
        1 for r in records if not r.goal_reached and r.outcome != Outcome.SIMULATOR_ERROR
    )
    assert set(document["requests"]) == {"MESSAGE", "ACK", "WEBHOOK", "CONVERSATION", "LLM"}


def test_a_journal_rebuild_gives_the_same_cost_as_the_live_aggregate():
    """Records keep costs to 8 decimals; summing in those units makes both totals identical."""
    records = make_records(50, seed=5)
    live = aggregate(records)["summary"]["total_cost_usd"]
    reread = [ConversationRecord.from_document(r.to_document()) for r in records]
    assert aggregate(reread)["summary"]["total_cost_usd"] == live
