"""Command-line flags over a config: a new config validated from the file's values and the flags',
so that a flag obeys its field's rules and an error names the flag (see `config.apply_overrides`)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from convoload.config import PLATFORM_TYPES, Config, Override, apply_overrides, config_error, llm_overrides

# The CI outputs of the commands that run conversations (see cli.ci).
JunitXmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--junit-xml",
        help="Write a JUnit XML report here (the junit-10.xsd layout Jenkins, GitLab and GitHub test "
        "reporters read): a test case per conversation (pipeline: per scenario and its conversations; "
        "capacity: per step), failures carrying the reason and the last turns.",
    ),
]
SummaryMdOpt = Annotated[
    Path | None,
    typer.Option(
        "--summary-md",
        help="Write a Markdown summary here (grade, goal rate, latency, cost, the comparison with "
        "--baseline, the worst transcripts). Also appended to $GITHUB_STEP_SUMMARY when it is set.",
    ),
]
BaselineOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline",
        help="Compare the run with this one in the summary: an exported run file "
        "(`convoload runs export RUN -o run.json`), or a run id, id prefix or `latest` of "
        "--baseline-store (default: this run's results store). The metrics and thresholds of "
        "`convoload runs compare`; it never changes the exit code (run `runs compare` to gate on it).",
    ),
]
BaselineStoreOpt = Annotated[
    str | None,
    typer.Option(
        "--baseline-store",
        help="The results store --baseline is in: a database URL, a database file or a runs folder.",
    ),
]

# The run settings each flag sets, for the flag's name in errors.
_RUN_FLAGS = {
    "conversations": "--conversations",
    "concurrency": "--concurrency",
    "seed": "--seed",
    "max_iterations": "--max-iterations",
    "ramp_up_s": "--ramp-up",
    "runs_dir": "--runs-dir",
}

# The flags that set a bundled system's option, when the system has that option.
_DEMO_OPTION_FLAGS = {"--reply-delay": "reply_delay_s", "--listings": "listings"}


def apply_flags(
    config: Config,
    *,
    personas: list[str] | None = None,
    url: str | None = None,
    target_type: str | None = None,
    preset: str | None = None,
    runs_dir: Path | None = None,
    user_mode: str | None = None,
    llm: str | None = None,
    replay: bool | None = None,
    extra: list[Override] | None = None,
    **run_values: Any,
) -> Config:
    """Command-line flags win over the config file; they are validated like the file (errors name the flag).

    `run_values` are run settings by field name (see _RUN_FLAGS); `extra` any other flag's field.
    """
    run_values["runs_dir"] = str(runs_dir) if runs_dir else None
    overrides = [Override(_RUN_FLAGS[k], f"run.{k}", v) for k, v in run_values.items()]
    if url or target_type or preset:
        kind = target_type or config.target.type
        if kind in ("demo", "python") and url:
            kind = "webhook" if preset else "http"
        type_flag = "--type" if target_type else "--url" if url else "--preset"
        overrides += [
            Override(type_flag, "target.type", kind),
            Override("--url", "target.url", url),
            Override("--preset", "target.preset", preset),
        ]
    overrides.append(Override("--personas", "personas", list(personas) if personas else None))
    overrides += extra or []
    overrides += llm_overrides(config, user_mode, llm, replay)
    return apply_overrides(config, overrides, base_dir=Path.cwd() if personas else None)


def demo_option_flags(system: str, values: dict[str, Any]) -> list[Override]:
    """--reply-delay, --listings as overrides of the bundled system's options it has.

    A value obeys the option's rules wherever the option exists, whichever agent runs: `demo --agent
    tickets --listings 99` is refused as `--agent realestate --listings 99` is (errors name the flag).
    """
    from convoload.bundled import BUNDLED, agent_names

    def has(name: str, option: str) -> bool:
        return option in BUNDLED.get(name).options.model_fields

    overrides = []
    for flag, value in values.items():
        option = Override(flag, f"target.demo.{_DEMO_OPTION_FLAGS[flag]}", value)
        for other in agent_names():
            if other != system and has(other, _DEMO_OPTION_FLAGS[flag]):
                apply_overrides(Config(), [Override(flag, "target.demo.agent", other), option])
        if has(system, _DEMO_OPTION_FLAGS[flag]):
            overrides.append(option)
    return overrides


def check_workers(config: Config, workers: int) -> None:
    """--workers N: refused for an emulated platform beyond one worker, since the bot has one platform
    base URL and each worker would serve its own."""
    if workers > 1 and config.target.type in PLATFORM_TYPES:
        raise config_error(
            config,
            "target.type",
            f"{config.target.type}: the emulated platform serves one bot from one process; "
            f"run it without --workers or with --workers 1 (not {workers})",
        )
