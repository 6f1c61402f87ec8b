"""Load personas from YAML or plain-text files, and the built-in ones the installed bundled systems ship."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import ValidationError

from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.personas.model import Persona
from convoload.personas.text_facts import persona_from_text
from convoload.safeyaml import load_yaml_mapping, read_text_file
from convoload.textutil import fold

PERSONA_SUFFIXES = (".yaml", ".yml", ".txt")


def load_persona_file(path: str | Path) -> Persona:
    """A `.yaml`/`.yml` persona, or a `.txt` free-text persona prompt."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PERSONA_SUFFIXES:
        raise ConfigError(
            str(path), "", f"unsupported persona file type {suffix or '(none)'!r}; use .yaml, .yml or .txt"
        )
    if suffix == ".txt":
        persona = persona_from_text(path.stem, read_text_file(path))
    else:
        data = load_yaml_mapping(path)
        try:
            persona = Persona.model_validate(data)
        except ValidationError as exc:
            raise pydantic_error_to_config_error(str(path), exc) from None
    return persona.model_copy(update={"source": str(path)})


def builtin_personas() -> dict[str, Persona]:
    """The personas of every installed bundled system (convoload.bundled), by lower-case name."""
    from convoload.bundled import BUNDLED

    personas: dict[str, Persona] = {}
    folders = []
    for name in BUNDLED.names():
        try:
            folder = BUNDLED.get(name).persona_folder
        except KeyError as exc:  # a broken pack
            raise ConfigError("bundled systems", "", str(exc.args[0])) from None
        if folder is not None and folder not in folders:
            folders.append(folder)
            personas.update(_folder_personas(folder))
    return personas


@cache
def _folder_personas(folder: Traversable) -> dict[str, Persona]:
    """A bundled system's persona files (read once per process), by lower-case name."""
    personas: dict[str, Persona] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            with resources.as_file(entry) as path:
                persona = load_persona_file(path)
            personas[persona.key] = persona.model_copy(update={"source": f"builtin:{entry.name}"})
    return personas


def resolve_personas(
    specs: Iterable[str], base_dir: Path | None = None, source: str = "personas"
) -> list[Persona]:
    """Turn names of built-ins, persona files and folders of persona files into personas."""
    builtins = builtin_personas()
    out: list[Persona] = []
    for i, spec in enumerate(specs):
        field = f"{source}[{i}]"
        key = fold(spec.strip())
        if key in builtins:
            out.append(builtins[key])
            continue
        path = Path(spec).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in PERSONA_SUFFIXES)
            if not files:
                raise ConfigError(source, field, f"folder {spec!r} holds no persona files")
            out.extend(load_persona_file(p) for p in files)
        elif path.exists() or path.suffix.lower() in PERSONA_SUFFIXES:
            out.append(load_persona_file(path))
        else:
            known = ", ".join(p.name for p in builtins.values())
            raise ConfigError(source, field, f"{spec!r} is neither a built-in persona ({known}) nor a file")
    names = [p.key for p in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(source, "", f"persona names must be unique, repeated: {', '.join(duplicates)}")
    return out
