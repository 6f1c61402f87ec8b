"""settings.json: a run's config and personas as it played them, kept in its folder.

`convoload rerun` and `convoload export` read it to play a conversation again as it was played,
whatever became of the config and persona files since: the same target, goal, user mode, LLM chain
and replay cache, and the very personas (an LLM user's replay cache is keyed by the persona's
content). Secrets are not in it: a config holds `{env.NAME}` placeholders and variable names, never
their values, and the file is redacted as run.json is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from convoload.config import Config
from convoload.envsecrets import load_env_files
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.personas.model import Persona
from convoload.store.journal import write_json

if TYPE_CHECKING:
    from convoload.load.run_spec import RunSpec

SNAPSHOT_NAME = "settings.json"
_VERSION = 1


def write_snapshot(spec: RunSpec) -> None:
    """settings.json of the run `spec` resolves to, in its folder."""
    config = spec.config.model_dump(mode="json")
    cache = config["llm"].get("cache_path")
    if cache and not Path(cache).is_absolute():
        # Opened relative to the working directory (load.resources): a rerun from elsewhere finds it.
        config["llm"]["cache_path"] = str(Path.cwd() / cache)
    document = {
        "version": _VERSION,
        "run_id": spec.run_id,
        "seed": spec.seed,
        "source": spec.config.source,
        "base_dir": str(spec.config.base_dir),
        "config": config,
        "personas": [{"source": p.source, "persona": p.model_dump(mode="json")} for p in spec.personas],
    }
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    write_json(spec.run_dir / SNAPSHOT_NAME, document)


@dataclass(frozen=True, slots=True)
class PlayedPersona:
    persona: Persona
    source: str | None  # its file, `builtin:<file>` for a bundled system's, None when made in code


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A run's settings.json, read back."""

    path: Path
    seed: int
    source: str  # the config file the run read, or "(defaults)"
    config: Config
    personas: list[PlayedPersona]

    def persona(self, name: str) -> PlayedPersona | None:
        return next((p for p in self.personas if p.persona.name == name), None)


def read_snapshot(run_dir: Path) -> RunSnapshot | None:
    """The run's settings.json, None when it has none (a run of an earlier version); a file that
    does not validate (e.g. the pack of its bundled system is gone) is a ConfigError naming it."""
    path = run_dir / SNAPSHOT_NAME
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        base_dir = Path(document["base_dir"])
        load_env_files(base_dir)  # as loading the config file did: {env.NAME} from its .env
        config = Config.model_validate({**document["config"], "source": str(path), "base_dir": base_dir})
        personas = [
            PlayedPersona(Persona.model_validate(p["persona"]), p.get("source")) for p in document["personas"]
        ]
        return RunSnapshot(path, int(document["seed"]), str(document["source"]), config, personas)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(str(path), exc) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(str(path), "", f"not a run's settings file ({type(exc).__name__}: {exc})") from None
