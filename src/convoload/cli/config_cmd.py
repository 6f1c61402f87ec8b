"""`convoload config`: the JSON Schema of the YAML files, for editors (YAML language server) and CI."""

import sys
from typing import Annotated

import typer

config_app = typer.Typer(help="The config files' JSON Schema, for editors and CI.", no_args_is_help=True)


@config_app.command("schema")
def config_schema(
    kind: Annotated[
        str,
        typer.Argument(help="Which file: run (a convoload config, the default) or monitor (the monitor's)."),
    ] = "run",
) -> None:
    """Print the JSON Schema of a config file, generated from the models that validate it.

    Save it and name it at the top of your config, and an editor with the YAML language server (VS
    Code's YAML extension, Neovim, JetBrains) completes and checks its keys:

        convoload config schema > convoload.schema.json

        # yaml-language-server: $schema=convoload.schema.json

    The options of `target.demo` are those of the bundled systems installed here.
    """
    from convoload import schema
    from convoload.errors import ConfigError

    if kind not in schema.KINDS:
        raise ConfigError(
            "convoload config schema", "KIND", f"{kind!r} is not one of {', '.join(schema.KINDS)}"
        )
    sys.stdout.write(schema.dump(kind))
