"""The `convoload` command line: short commands over the Python API (`convoload.api`), a module per group.

`app` is the Typer app: the commands are registered here, in the order `--help` lists them, then the
ones packs register under `convoload.commands`. `main()` is the console script: bad input (a flag, a
config or persona file) ends in one line naming it and exit code 2, never a traceback.
"""

from gevent import monkey

monkey.patch_all()  # first of all: conversations run in gevent greenlets under Locust's runner

import sys  # noqa: E402
from typing import Any  # noqa: E402

import typer  # noqa: E402

from convoload.cli import capacity, monitor, pipeline, report, rerun, run  # noqa: E402
from convoload.cli.config_cmd import config_app  # noqa: E402
from convoload.cli.judge import judge_app  # noqa: E402
from convoload.cli.llm import llm_app  # noqa: E402
from convoload.cli.personas import personas_app  # noqa: E402
from convoload.cli.runs import runs_app  # noqa: E402
from convoload.errors import InputError  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(
    help="Persona-driven multi-turn load testing for conversational AI agents.\n\n"
    "Simulated customers with personas hold whole conversations with your agent "
    "(HTTP, webhook callbacks or in-process), under Locust, and every conversation is recorded.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
for _command in (
    run.demo,
    run.run,
    run.stress,
    capacity.capacity,
    monitor.monitor,
    pipeline.pipeline,
    run.converse,
    rerun.rerun,
    rerun.export,
    report.report,
    report.locustfile,
    report.identities,
):
    app.command()(_command)
app.add_typer(personas_app, name="personas")
app.add_typer(llm_app, name="llm")
app.add_typer(judge_app, name="judge")
app.add_typer(runs_app, name="runs")
app.add_typer(config_app, name="config")


def _add_pack_commands() -> None:
    """Commands that packs register under `convoload.commands` (a Typer command function, or a Typer
    app for a group); a pack that cannot be loaded is named on stderr and left out."""
    from convoload import plugins

    def check(obj: Any) -> Any:
        if not callable(obj):
            raise ValueError("is neither a Typer command function nor a Typer app")
        return obj

    commands: plugins.Registry[Any] = plugins.Registry(plugins.COMMANDS, "command", check)
    for name in commands.names():
        try:
            command = commands.get(name)
        except KeyError as exc:
            sys.stderr.write(f"warning: {exc.args[0]}\n")
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name)(command)


_add_pack_commands()


def main() -> None:
    try:  # typer vendors click from 0.2x on; older releases use click itself
        from typer._click import exceptions as click
    except ImportError:
        from click import exceptions as click

    try:
        code = app(prog_name="convoload", standalone_mode=False)
    except InputError as exc:  # bad input only: the other ConvoloadErrors are faults, not the user's
        sys.stderr.write(f"error: {exc}\n")  # one line, never wrapped
        sys.exit(2)
    except click.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # A bad flag reads like a bad config field: one line naming it (the usage is one --help away).
        where = f"{exc.ctx.command_path}: " if isinstance(exc, click.UsageError) and exc.ctx else ""
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"error: {where}{message}\n")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):  # typer.Abort: click's own, or typer's since it vendors click
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
