"""RunResources: what a run starts, and stops when it closes.

The simulated users' LLM provider chain (with the local provider server when a provider asks for it,
and the response cache), the bundled system when the target is one (`convoload.bundled`), and the
target connector with its callback receiver. Everything goes into one ExitStack: closing stops it
in reverse order, and a failure while starting closes what was already started.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from convoload.bundled import StartedSystem, start_bundled
from convoload.config import Config, aimed_at
from convoload.envsecrets import redact_value
from convoload.llm.cache import LLMCache
from convoload.llm.providers import LOCAL_SERVER
from convoload.load.run_spec import RunSpec
from convoload.load.wiring import build_chain, build_target, needs_local_server, provider_specs
from convoload.targets.base import Target
from convoload.users.llm import LLMSettings


class RunResources:
    def __init__(self, spec: RunSpec, *, target: Target | None = None) -> None:
        """Start what `spec` needs; `target`: an object to talk to instead of the config's target."""
        self.config = spec.config
        self.bundled: StartedSystem | None = None  # the bundled system started, if any
        self.llm: LLMSettings | None = None  # None: the users need no model (scripted, fixed)
        self.llm_labels: list[str] = []  # PROVIDER/MODEL of the chain, in order
        # An object given in the config's place: run.json names its kind.
        self._given_target = (
            None if target is None else {"type": getattr(target, "kind", type(target).__name__), "url": None}
        )
        self._stack = ExitStack()
        try:
            if self.config.user.type in ("llm", "mixed"):
                self.llm = self._start_llm(self.config)
            self.target: Target = target if target is not None else self._start_target(spec)
        except BaseException:
            self._stack.close()  # e.g. stop the bundled system already started
            raise
        self._stack.callback(self.target.close)

    def _start_target(self, spec: RunSpec) -> Target:
        placed: dict[str, Any] = {}
        if spec.placement is not None:
            placed = {
                "worker_index": spec.placement.worker_index,
                "callback_base": spec.placement.callback_base,
            }
        config = self.config
        if config.target.type != "demo":
            return build_target(config, **placed)
        demo = config.target.demo
        self.bundled = start_bundled(
            demo.agent,
            self._stack,
            options=demo.options,
            seed=spec.seed,
            signature=config.target.receiver.signature,  # it signs callbacks as our receiver expects
            source=config.source,
        )
        return build_target(aimed_at(config, self.bundled.target), **placed)

    def _start_llm(self, config: Config) -> LLMSettings:
        specs = provider_specs(config)
        if needs_local_server(specs):
            server = start_bundled(LOCAL_SERVER, self._stack)
            specs = provider_specs(config, local_base_url=server.url)
        self.llm_labels = [s.label for s in specs]
        chain = build_chain(config, specs)
        self._stack.callback(chain.close)
        cache = None
        if config.llm.cache_path:
            path = Path(config.llm.cache_path)
            cache = LLMCache(path if path.is_absolute() else Path.cwd() / path)
            self._stack.callback(cache.close)
        params = {"temperature": config.llm.temperature, "max_tokens": config.llm.max_tokens}
        return LLMSettings(
            chain=chain, cache=cache, replay=config.llm.replay, retries=config.llm.user_retries, params=params
        )

    @property
    def replay(self) -> bool:
        """Whether the users' LLM answers come from the cache only."""
        return self.config.llm.replay if self.llm else False

    def target_meta(self) -> dict[str, Any]:
        """run.json's `target`: what the run talks to (an object given in the config's place: its kind)."""
        if self._given_target is not None:
            return self._given_target
        target = self.config.target
        url = self.bundled.url if self.bundled else target.url or target.function
        return {"type": target.type, "url": redact_value(url)}

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> RunResources:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
