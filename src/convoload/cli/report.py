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
    merge: Annotated[
        list[Path] | None,
        typer.Option(
            "--merge",
            help="A worker's folder of this distributed run to merge in, e.g. one copied from another "
            "machine (repeatable). RUN_DIR's own worker-<k>/ folders are merged without it.",
        ),
    ] = None,
) -> None:
    """Rebuild a run's aggregate, per-conversation files and HTML report from its journal.

    Works on runs that crashed or were killed: every conversation that finished
    was journaled the moment it finished. The results database, which a run fills
    in batches, gets back the conversations of its last batch, and a run a kill
    left "running" there is closed as interrupted.

    A distributed run's folder (one holding worker-<k>/ folders with journals), or
    any run folder given --merge, is merged first: the master's journal, if any,
    and every worker's, each conversation once (when copies differ, the worker's
    wins), into RUN_DIR's journal and run.json (run.distributed.merged_from names
    the folders); then it is rebuilt as above, and a results database that lacks
    the run gets it whole. For a master that died mid-run, or workers on several
    machines.
    """
    from convoload.cli.common import err_console
    from convoload.report.console import print_summary
    from convoload.report.html import write_html_report
    from convoload.report.merge import is_distributed, merge_run
    from convoload.report.rebuild import rebuild_run, restore_store

    merged = merge_run(run_dir, merge or ()) if merge or is_distributed(run_dir) else None
    document = rebuild_run(run_dir)
    report = write_html_report(run_dir)
    restored = restore_store(run_dir, document, db, create=merged is not None)
    if merged is not None and merged.differing:
        err_console.print(
            f"warning: {len(merged.differing)} conversations differed between journals; "
            f"the worker's copy kept: {', '.join(merged.differing)}",
            soft_wrap=True,
        )
    if json_output:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    print_summary(console, document)
    if merged is not None:
        console.print(
            f"merged: {merged.conversations} conversations of run {merged.run_id}, each once "
            f"({merged.duplicates} copies found twice), from:",
            soft_wrap=True,
        )
        for journal in merged.journals:
            who = "master" if journal.worker_index is None else f"worker {journal.worker_index}"
            line = f"  {who}: {journal.folder} ({journal.conversations} conversations)"
            console.print(line, soft_wrap=True)
        for folder in merged.skipped:
            console.print(f"  skipped (no journal): {folder}", soft_wrap=True)
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
