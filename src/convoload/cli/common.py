"""What the commands share: the terminal, the options of the run flags, the grade-floor checks."""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from convoload.errors import ConfigError
from convoload.report.grading import GRADE_ORDER

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-f",
        help="YAML config file (default: the bundled demo agent, no keys or network needed).",
    ),
]
PersonaOpt = Annotated[
    str | None, typer.Option("--persona", "-p", help="Give every user this persona (name).")
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Seed for personas and identities (reproducible).")
]
RunsDirOpt = Annotated[
    Path | None, typer.Option("--runs-dir", help="Where run folders go (default: ./runs).")
]
PersonasOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--personas",
        help="Personas to use instead of the config's: built-in names, persona files "
        "(.yaml/.txt) or folders. Repeatable.",
    ),
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Target URL, instead of the config's target.")]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type", help="Target type with --url: http or webhook (default: http, or webhook with --preset)."
    ),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset", help="Webhook preset: widget (POST {text, channelId, clientIdentifier, webhook})."
    ),
]
RampUpOpt = Annotated[
    float | None,
    typer.Option("--ramp-up", help="Spread the first conversations over this many seconds."),
]
UserModeOpt = Annotated[
    str | None,
    typer.Option(
        "--user-mode",
        help="Who plays the customers: scripted (offline, free), llm, mixed (the "
        "persona's fixed steps, then the LLM), or fixed (the config's user.scripts).",
    ),
]
LlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="PROVIDER/MODEL for LLM users, e.g. gemini/gemini-2.5-flash, "
        "openrouter/google/gemma-3-27b-it:free, ollama/gemma3n:e2b, local/persona (bundled, offline).",
    ),
]
ReplayOpt = Annotated[
    bool | None,
    typer.Option(
        "--replay/--no-replay",
        help="Answer LLM-user calls from the record/replay cache when the "
        "conversation so far matches a recorded one.",
    ),
]
MaxIterOpt = Annotated[
    int | None, typer.Option("--max-iterations", help="Turns before giving up (default 15, at most 500).")
]


def check_grade_floor(floor: str | None) -> None:
    """Fail on a bad --grade-floor before anything runs."""
    if floor is not None and floor not in GRADE_ORDER:
        raise ConfigError("--grade-floor", "", f"unknown grade {floor!r} (one of {', '.join(GRADE_ORDER)})")


def enforce_grade_floor(grade: str, floor: str | None, what: str = "grade") -> None:
    """Exit 1 when `grade` is below the --grade-floor given."""
    from convoload.report.grading import at_least

    if floor is not None and not at_least(grade, floor):
        err_console.print(f"{what} {grade} is below the floor {floor}")
        raise typer.Exit(1)
