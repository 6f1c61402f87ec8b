"""`convoload report` (a run rebuilt from its journal), `locustfile` and `identities`."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from convoload.cli.common import SeedOpt, console


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder, e.g. runs/20261123-101500-ab12cd.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the aggregate as JSON.")] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Results database to complete [default: $CONVOLOAD_DB_URL or the run's "
            "runs folder's results.sqlite, when there is one]",
        ),
    ] = None,
) -> None:
    """Rebuild a run's aggregate, per-conversation files and HTML report from its journal.

    Works on runs that crashed or were killed: every conversation that finished
    was journaled the moment it finished. The results database, which a run fills
    in batches, gets back the conversations of its last batch, and a run a kill
    left "running" there is closed as interrupted.
    """
    from convoload.report.console import print_summary
    from convoload.report.html import write_html_report
    from convoload.report.rebuild import rebuild_run, restore_store

    document = rebuild_run(run_dir)
    report = write_html_report(run_dir)
    restored = restore_store(run_dir, document, db)
    if json_output:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        print_summary(console, document)
        console.print(f"rebuilt: {run_dir / 'aggregate.json'} and {report}")
        if restored is not None:
            console.print(f"results store: {restored} conversations put back from the journal")


def locustfile() -> None:
    """Print the path of convoload's locustfile, for `locust -f $(convoload locustfile) ...`.

    Extra locust options it adds: --convoload-config FILE, --persona NAME, --seed N,
    --runs-dir DIR, --max-iterations N. Without a config it starts the demo agent.
    """
    from importlib import resources

    sys.stdout.write(str(resources.files("convoload.load") / "locustfile.py") + "\n")


def identities(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many.")] = 5, seed: SeedOpt = None
) -> None:
    """Print synthetic customer identities (name, phone, e-mail, valid CPF) as JSON lines."""
    from convoload.identity import IdentityFactory

    factory = IdentityFactory(seed)
    for i in range(count):
        sys.stdout.write(json.dumps(factory.identity(i).as_dict(), ensure_ascii=False) + "\n")
