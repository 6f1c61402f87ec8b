"""What the judge tests share: a judge on the real local provider, labelled conversations, journals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from convoload.events import Event
from convoload.judge.calibrate import LabelledConversation, read_labelled
from convoload.judge.judge import Judge, JudgeSettings
from convoload.judge.rubric import shipped_labels
from convoload.llm.cache import LLMCache
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload_demo.llmserver import LocalLLMServer


def local_judge(
    server: LocalLLMServer,
    *,
    model: str = "judge",
    cache: LLMCache | None = None,
    replay: bool = True,
    invalid_retries: int = 2,
    retries: int = 2,
    events: list[Event] | None = None,
    emit: Callable[[Event], None] | None = None,
    price: tuple[float, float, float | None] | None = None,
    structured_output: str = "json_schema",
) -> Judge:
    """A judge whose one provider is the local server, through the real OpenAI client and chain."""
    spec = ProviderSpec(
        name="local", base_url=server.base_url, model=model, timeout_s=10, free=price is None, price=price
    )
    chain = ProviderChain(
        [ProviderClient(spec, shipped_prices())],
        policy=RetryPolicy(retries=1, backoff_base_s=0.0, backoff_max_s=0.0),
        sleep=lambda _: None,  # backoff between attempts is the chain's business, not these tests'
    )
    settings = JudgeSettings(
        chain=chain,
        cache=cache,
        replay=replay,
        retries=retries,
        invalid_retries=invalid_retries,
        structured_output=structured_output,
    )
    return Judge(settings, emit=emit or (events.append if events is not None else None))


def shipped(name: str) -> list[LabelledConversation]:
    return read_labelled(shipped_labels(name))


def labelled(name: str, item_id_part: str) -> LabelledConversation:
    return next(item for item in shipped(name) if item_id_part in item.id)


def write_journal(run_dir: Path, items: list[LabelledConversation]) -> Path:
    """A run folder whose journal holds these conversations (as a finished run's journal holds them)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(item.conversation, ensure_ascii=False) for item in items]
    (run_dir / "journal.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_dir
