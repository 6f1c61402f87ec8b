"""`convoload llm`: the LLM providers of LLM-driven simulated users."""

import typer

from convoload.cli.common import ConfigOpt, LlmOpt, console
from convoload.config import apply_llm_flags, load_config

llm_app = typer.Typer(help="LLM providers used by LLM-driven simulated users.", no_args_is_help=True)


@llm_app.command("check")
def llm_check(config_path: ConfigOpt = None, llm: LlmOpt = None) -> None:
    """Show which providers the chain would use, whether their keys are set, and whether they answer.

    Keys are never printed: only the name of the variable and whether it is set. Reachability is
    a GET of the provider's /models endpoint. Exit 1 when no provider is usable.
    """
    from rich.table import Table

    from convoload.llm.probe import probe_providers
    from convoload.load.wiring import provider_specs

    config = apply_llm_flags(load_config(config_path), None, llm, None)
    table = Table("#", "provider", "model", "base URL", "key", "tools", "reachable")
    usable = 0
    for i, result in enumerate(probe_providers(provider_specs(config)), start=1):
        usable += result.usable
        table.add_row(
            str(i),
            result.spec.name,
            result.spec.model,
            result.spec.base_url or "(started on demand)",
            result.key_status,
            "native" if result.spec.native_tools else "prompted JSON",
            result.status,
        )
    console.print(table)
    if not usable:
        raise typer.Exit(1)
