"""`convoload personas`: list, show and validate personas."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from convoload.cli.common import ConfigOpt, console
from convoload.config import load_config
from convoload.errors import ConfigError

personas_app = typer.Typer(help="List, show and validate personas.", no_args_is_help=True)


@personas_app.command("list")
def personas_list(config_path: ConfigOpt = None) -> None:
    """List the personas of a config (default: the built-in ones)."""
    from rich.table import Table

    from convoload.config import persona_specs
    from convoload.personas import builtin_personas, resolve_personas

    config = load_config(config_path)
    table = Table("name", "language", "playbook", "goal", "source")
    specs = persona_specs(config) if config_path else list(builtin_personas())
    for p in resolve_personas(specs, config.base_dir, config.source):
        table.add_row(p.name, p.language, p.playbook or "", p.goal or p.description[:60], p.source or "")
    console.print(table)


@personas_app.command("show")
def personas_show(
    name_or_file: Annotated[str, typer.Argument(help="Built-in name or persona file.")],
) -> None:
    """Show one persona as YAML, with the facts found in it."""
    import yaml

    from convoload.personas import resolve_personas

    persona = resolve_personas([name_or_file], Path.cwd(), "argument")[0]
    sys.stdout.write(yaml.safe_dump(persona.model_dump(), allow_unicode=True, sort_keys=False))


@personas_app.command("check")
def personas_check(
    files: Annotated[list[Path], typer.Argument(help="Persona files (.yaml, .yml, .txt).")],
) -> None:
    """Validate persona files; exit 2 naming the file and field of the first problem."""
    from convoload.personas import load_persona_file
    from convoload.users.factory import check_personas

    for path in files:
        persona = load_persona_file(path)
        problems = check_personas([persona])
        if problems:
            source, field, message = problems[0].split(": ", 2)
            raise ConfigError(source, field, message)
        console.print(f"ok  {path}  ({persona.name}, {persona.language}, playbook {persona.playbook or '-'})")
