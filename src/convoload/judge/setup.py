"""Build the judge from a validated Config: its provider chain (starting the bundled local provider
when it is one), the replay cache, and which rubric each conversation is judged by."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from convoload.bundled import start_bundled
from convoload.config import Config
from convoload.errors import ConfigError
from convoload.events import Event
from convoload.judge.judge import Judge, JudgeSettings, JudgeTask
from convoload.judge.rubric import RUBRICS, Rubric, load_rubric
from convoload.llm.cache import LLMCache
from convoload.llm.providers import LOCAL_SERVER
from convoload.load.wiring import build_chain, needs_local_server, provider_specs
from convoload.model import ConversationRecord
from convoload.plugins import load_object

log = logging.getLogger(__name__)

# Without configuration the judge is the bundled local provider's deterministic judge: offline, free.
DEFAULT_JUDGE = "local/judge"


def judge_labels(config: Config) -> list[str]:
    """PROVIDER/MODEL of the judge's chain, in order (no server started)."""
    return [s.label for s in provider_specs(_as_llm_config(config))]


def _as_llm_config(config: Config) -> Config:
    """The config with the judge's providers in the `llm` section, so the users' builders serve it."""
    judge = config.judge
    llm = config.llm.model_copy(update={"providers": judge.providers})
    user = config.user.model_copy(update={"llm": judge.llm or DEFAULT_JUDGE})
    return config.model_copy(update={"llm": llm, "user": user})


class JudgeResources:
    """The judge and what it needs running; closing stops the local provider and closes the cache."""

    def __init__(
        self, config: Config, *, replay: bool | None = None, emit: Callable[[Event], None] | None = None
    ) -> None:
        self.config = config
        self._stack = ExitStack()
        try:
            self.judge = self._build(config, replay, emit)
        except BaseException:
            self._stack.close()
            raise

    def _build(self, config: Config, replay: bool | None, emit: Callable[[Event], None] | None) -> Judge:
        as_llm = _as_llm_config(config)
        specs = provider_specs(as_llm)
        if needs_local_server(specs):
            server = start_bundled(LOCAL_SERVER, self._stack)
            specs = provider_specs(as_llm, local_base_url=server.url)
        chain = build_chain(config, specs)
        self._stack.callback(chain.close)
        cache = None
        if config.llm.cache_path:
            path = Path(config.llm.cache_path)
            cache = LLMCache(path if path.is_absolute() else Path.cwd() / path)
            self._stack.callback(cache.close)
        j = config.judge
        settings = JudgeSettings(
            chain=chain,
            cache=cache,
            replay=j.replay if replay is None else replay,
            retries=j.retries,
            invalid_retries=j.invalid_retries,
            structured_output=j.structured_output,
            params={"temperature": j.temperature, "max_tokens": j.max_tokens},
        )
        return Judge(settings, emit=emit)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> JudgeResources:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RubricChooser:
    """Which rubric judges a conversation: `--rubric`, else `judge.personas[<persona>]`, else
    `judge.rubric`, else the shipped rubric named as the persona's playbook (tickets, realestate),
    else the one named as the config's bundled agent. Rubrics are loaded once each."""

    def __init__(self, config: Config, override: str | None = None) -> None:
        self.config = config
        self.override = override
        self._rubrics: dict[str, Rubric] = {}
        self._references: dict[str, Callable[[ConversationRecord], Any] | None] = {}
        self._playbooks: dict[str, str | None] | None = None

    def spec_for(self, persona: str) -> tuple[str, str]:
        """(rubric spec, the field it came from) for a persona; ConfigError when nothing names one."""
        j = self.config.judge
        if self.override:
            return self.override, "--rubric"
        if persona in j.personas:
            return j.personas[persona], f"judge.personas.{persona}"
        if j.rubric:
            return j.rubric, "judge.rubric"
        playbook = self._playbook(persona)
        if playbook and playbook in RUBRICS:
            return playbook, "the persona's playbook"
        target = self.config.target
        if target.type == "demo" and target.demo.agent in RUBRICS:
            return target.demo.agent, "target.demo.agent"
        raise ConfigError(
            self.config.source, "judge.rubric", f"no rubric for persona {persona!r}: name one (or --rubric)"
        )

    def rubric(self, persona: str) -> Rubric:
        spec, field = self.spec_for(persona)
        return self.load(spec, field if field.startswith("--") else f"{self.config.source}: {field}")

    def load(self, spec: str, source: str = "rubric") -> Rubric:
        """A rubric by shipped name or file (relative to the config's folder), loaded once."""
        rubric = self._rubrics.get(spec)
        if rubric is None:
            rubric = self._rubrics[spec] = load_rubric(spec, base_dir=self.config.base_dir, source=source)
        return rubric

    def task(self, record: ConversationRecord) -> JudgeTask:
        """The conversation with its rubric and reference facts. Bad input: ConfigError."""
        return self.task_with(record, self.rubric(record.persona))

    def task_with(self, record: ConversationRecord, rubric: Rubric) -> JudgeTask:
        reference = self._reference(rubric)
        return JudgeTask(record, rubric, None if reference is None else reference(record))

    def _reference(self, rubric: Rubric) -> Callable[[ConversationRecord], Any] | None:
        if rubric.reference is None:
            return None
        if rubric.reference not in self._references:
            try:
                function = load_object(rubric.reference)
            except ValueError as exc:
                raise ConfigError(f"rubric {rubric.name}", "reference", str(exc)) from None
            if not callable(function):
                raise ConfigError(f"rubric {rubric.name}", "reference", f"{rubric.reference} is not callable")
            self._references[rubric.reference] = function
        return self._references[rubric.reference]

    def _playbook(self, persona: str) -> str | None:
        if self._playbooks is None:
            from convoload.personas.loader import builtin_personas

            try:
                self._playbooks = {p.name: p.playbook for p in builtin_personas().values()}
            except ConfigError:  # a broken pack: its personas name no rubric
                log.warning("bundled personas cannot be read; rubrics come from the config only")
                self._playbooks = {}
        return self._playbooks.get(persona)
