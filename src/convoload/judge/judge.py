"""The conversation judge: one finished conversation in, one typed `Judgement` out, never an exception.

It asks its own provider chain (retries, fallback and circuit breakers as the simulated users get
them) for a verdict in the rubric's JSON schema. An answer that does not match the schema is asked
for again (`invalid_retries` times), then the conversation is counted as a judge error; so is a chain
that stays unavailable after `retries` whole-chain attempts. Valid answers are recorded in the replay
cache and, with replay on, a conversation judged before with the same rubric and model is answered
from it. Every call is an `LLMCalled` event with `role="judge"` (failures: `LLMError`/`LLMFallback`
with the same role), so its tokens and dollars are counted as judge cost, apart from the users'.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from convoload.events import Event, Judged, LLMCalled, LLMError, LLMFallback
from convoload.judge.prompt import (
    InvalidVerdict,
    correction,
    judge_messages,
    parse_verdict,
    response_format,
    verdict_model,
)
from convoload.judge.rubric import Rubric
from convoload.llm.cache import LLMCache, cache_key
from convoload.llm.chain import ProviderChain
from convoload.llm.types import Fallback, LLMResponse, LLMUnavailable, ProviderError
from convoload.model import ConversationRecord
from convoload.model.judgement import CriterionScore, Judgement, JudgeUsage

log = logging.getLogger(__name__)

ROLE = "judge"  # the role marker of the judge's LLM events


@dataclass
class JudgeSettings:
    chain: ProviderChain
    cache: LLMCache | None = None
    replay: bool = True
    retries: int = 3  # whole-chain attempts per judgement
    invalid_retries: int = 2  # asks again after an answer that does not match the schema
    structured_output: str = "json_schema"
    params: dict[str, Any] = field(default_factory=lambda: {"temperature": 0.0, "max_tokens": 1500})


@dataclass(frozen=True, slots=True)
class JudgeTask:
    """One conversation to judge, with the rubric chosen for it and the facts it is checked against."""

    record: ConversationRecord
    rubric: Rubric
    reference: str | None = None


class Judge:
    def __init__(self, settings: JudgeSettings, *, emit: Callable[[Event], None] | None = None) -> None:
        self.settings = settings
        self._emit = emit or _never
        self._models: dict[str, type[BaseModel]] = {}

    @property
    def label(self) -> str:
        return self.settings.chain.primary

    def failed(self, record: ConversationRecord, rubric: str, error: str) -> Judgement:
        """A judge error for a conversation that could not even be put to the judge."""
        judgement = _blank(record, rubric)
        judgement.error = error
        self._emit(Judged(session_id=record.session_id, persona=record.persona, judgement=judgement))
        return judgement

    def judge(self, task: JudgeTask) -> Judgement:
        """The verdict on `task.record`; a `judge_error` judgement when none could be had."""
        record, rubric = task.record, task.rubric
        judgement = _blank(record, rubric.name)
        if not any(t.reply_text for t in record.turns):
            judgement.error = "nothing to judge: the agent never replied"
        else:
            try:
                self._verdict(task, judgement)
            except Exception as exc:  # a judge must never break what it judges; logged with its traceback
                log.exception("judging %s failed", record.session_id)
                judgement.status, judgement.error = "judge_error", f"internal error: {exc!r}"
        self._emit(Judged(session_id=record.session_id, persona=record.persona, judgement=judgement))
        return judgement

    def _verdict(self, task: JudgeTask, judgement: Judgement) -> None:
        s = self.settings
        rubric = task.rubric
        model = self._model(rubric)
        messages = judge_messages(rubric, task.record, task.reference)
        params = dict(s.params)
        fmt = response_format(rubric, s.structured_output)
        if fmt is not None:
            params["response_format"] = fmt
        digest = hashlib.sha256(rubric.model_dump_json().encode()).hexdigest()[:16]
        persona_key = f"judge:{rubric.name}#{digest}"
        key = cache_key(s.chain.primary, persona_key, messages, params)
        ids = {"session_id": task.record.session_id, "persona": task.record.persona}

        if s.cache is not None and s.replay:
            cached = s.cache.get(key)
            if cached is not None:
                try:
                    scores = parse_verdict(cached.text, rubric, model)
                except InvalidVerdict:
                    scores = None  # recorded by an older rubric schema: ask again
                if scores is not None:
                    self._count(judgement.usage, cached, ids)
                    self._fill(judgement, rubric, scores, cached)
                    return

        problem = "no answer"
        asked = messages
        for _ in range(1 + s.invalid_retries):
            response, unavailable = self._answer(asked, params, judgement.usage, ids)
            if response is None:
                judgement.error = f"judge LLM unavailable: {unavailable}"
                return
            try:
                scores = parse_verdict(response.text, rubric, model)
            except InvalidVerdict as exc:
                judgement.usage.invalid_outputs += 1
                problem = str(exc)
                # Asked again with what was wrong: at temperature 0 the same request gets the same answer.
                asked = [*messages, *correction(response.text, problem)]
                continue
            if s.cache is not None:
                s.cache.put(key, persona_key, response)
            self._fill(judgement, rubric, scores, response)
            return
        judgement.error = f"the judge's answer did not match the rubric's schema: {problem}"

    def _answer(
        self, messages: list[dict[str, Any]], params: dict[str, Any], usage: JudgeUsage, ids: dict[str, str]
    ) -> tuple[LLMResponse | None, str]:
        """The chain's answer, or None and why not after `retries` whole-chain attempts."""
        s = self.settings
        last = "no provider answered"
        for _ in range(max(1, s.retries)):
            try:
                result = s.chain.complete(messages, params=params)
            except LLMUnavailable as exc:
                # Counted even when a later attempt succeeds: the providers did fail.
                self._failures(exc.errors, exc.fallbacks, ids)
                last = str(exc)
                continue
            self._failures(result.errors, result.fallbacks, ids)
            self._count(usage, result.response, ids)
            return result.response, ""
        return None, last

    def _count(self, usage: JudgeUsage, response: LLMResponse, ids: dict[str, str]) -> None:
        u = response.usage
        if response.from_cache:
            usage.replayed_calls += 1
        else:
            usage.llm_calls += 1
            usage.prompt_tokens += u.prompt
            usage.completion_tokens += u.completion
            usage.total_tokens += u.total
            usage.cached_tokens += u.cached
            usage.cost_usd += response.cost_usd
        self._emit(LLMCalled.of(response, role=ROLE, **ids))

    def _failures(self, errors: list[ProviderError], fallbacks: list[Fallback], ids: dict[str, str]) -> None:
        for error in errors:
            self._emit(LLMError(**ids, provider=error.provider or "?", kind=error.kind.value, role=ROLE))
        for fallback in fallbacks:
            self._emit(
                LLMFallback(
                    **ids,
                    from_provider=fallback.from_provider,
                    to_provider=fallback.to_provider,
                    reason=fallback.reason,
                    role=ROLE,
                )
            )

    def _fill(
        self, judgement: Judgement, rubric: Rubric, scores: dict[str, tuple[int, str]], response: LLMResponse
    ) -> None:
        values = {cid: score for cid, (score, _) in scores.items()}
        judgement.criteria = [
            CriterionScore(
                id=c.id,
                score=values[c.id],
                normalised=round(c.scale.normalise(values[c.id]), 4),
                passed=c.passes(values[c.id]),
                reason=scores[c.id][1],
                quality=c.quality,
            )
            for c in rubric.criteria
        ]
        judgement.score = round(rubric.weighted_score(values), 4)
        judgement.passed = rubric.passes(values)
        judgement.status = "judged"
        judgement.error = None
        judgement.judge = f"{response.provider}/{response.model}"

    def _model(self, rubric: Rubric) -> type[BaseModel]:
        key = rubric.model_dump_json()
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = verdict_model(rubric)
        return model


def _never(event: Event) -> None:
    pass


def _blank(record: ConversationRecord, rubric: str) -> Judgement:
    return Judgement(
        run_id=record.run_id,
        session_id=record.session_id,
        user_id=record.user_id,
        persona=record.persona,
        rubric=rubric,
        status="judge_error",
    )
