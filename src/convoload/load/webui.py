"""The Conversations tab in Locust's web UI: live conversation numbers, latest transcripts, the run's files.

Locust's web UI is extended the way Locust supports it (its examples/extend_modern_web_ui.py):
- `web_ui.template_args` `extended_tabs` / `extended_tables`: tabs of one table each, here
  *Conversations* (the numbers per persona) and *Transcripts* (the latest finished conversations,
  failed first); their rows ride on the page's own polling of `/stats/requests`, as its
  `extended_stats` (added by an `after_request` hook of `web_ui.app`);
- `extended_csv_files`: links in Locust's *Download Data* tab, to the page below, the run's report
  and its journal;
- a Flask blueprint on `web_ui.app` (behind Locust's login with `--web-login`): the page
  `/convoload/conversations` (every kept transcript, whole, with a filter) and the run's files.

Everything is read when a request comes, from the run this process records at that moment (a
standalone process's RunContext, a master's MasterHub), so the tab follows the run when a new
test makes a new one. The numbers are the run's aggregator (a master's merges what its workers
shipped); the transcripts are read from the run's journal as it grows, keeping only the latest
few and the latest few failed ones.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from flask import Blueprint, Response, abort, redirect, request, send_file, url_for
from pydantic_core import from_json

from convoload.model import ConversationRecord, Outcome
from convoload.report.aggregate import Aggregator
from convoload.store.journal import JOURNAL_NAME

__all__ = ["ConversationsTab", "LiveRun", "TranscriptTail", "add_conversations_tab", "current_run"]

log = logging.getLogger(__name__)

NUMBERS_TAB = "convoload-conversations"
TRANSCRIPTS_TAB = "convoload-transcripts"
KEPT = 50  # latest finished conversations kept, and as many of the latest failed ones
_READ_CAP = 8 * 1024 * 1024  # journal bytes read at most per request: only the latest lines matter
_KNOWN_RUNS = 50  # earlier runs of this process whose files stay downloadable
_TAB_TURNS = 3  # the last turns of a transcript shown in the tab's table
_TAB_TEXT = 120  # characters of one message in the tab's table
REPORT_NAME = "report.html"

NUMBERS_COLUMNS = [
    {"key": "persona", "title": "Persona"},
    {"key": "conversations", "title": "Conversations"},
    {"key": "goal_reached", "title": "Goal reached"},
    {"key": "goal_rate", "title": "Goal rate"},
    {"key": "turns_to_goal", "title": "Turns to goal (avg)"},
    {"key": "outcomes", "title": "Outcomes"},
    {"key": "errors", "title": "Error kinds"},
]
TRANSCRIPT_COLUMNS = [
    {"key": "finished", "title": "Finished"},
    {"key": "persona", "title": "Persona"},
    {"key": "outcome", "title": "Outcome"},
    {"key": "reason", "title": "Reason"},
    {"key": "turns", "title": "Turns"},
    {"key": "transcript", "title": "Last turns"},
    {"key": "session", "title": "Session"},
]
ALL_PERSONAS = "all personas"


@dataclass(slots=True, frozen=True)
class LiveRun:
    """The run a process records now: its id, folder and live aggregate."""

    run_id: str
    run_dir: Path
    aggregator: Aggregator


def current_run(environment: Any) -> LiveRun | None:
    """The run this Locust process records at this moment: a master's (the run its workers feed), a
    standalone process's; None before there is one (or on a process that records none)."""
    hub = getattr(environment, "convoload_master", None)
    if hub is not None:
        return LiveRun(hub.run_id, Path(hub.run_dir), hub.aggregator)
    state = getattr(environment, "convoload", None)
    context = getattr(state, "context", None)
    if context is None:
        return None
    return LiveRun(context.run_id, Path(context.run_dir), context.aggregator)


# -- the numbers ------------------------------------------------------------------------------------------


def _counts(counter: Any) -> str:
    return ", ".join(f"{name} {count}" for name, count in counter.most_common()) or "-"


def _numbers_row(name: str, tally: Any) -> dict[str, Any]:
    judged = tally.judged
    return {
        "persona": name,
        "conversations": tally.conversations,
        "goal_reached": tally.successful,
        # Over the conversations that say something about the agent, as the aggregate counts it.
        "goal_rate": f"{100 * tally.successful / judged:.1f}%" if judged else "-",
        "turns_to_goal": f"{tally.iterations_to_goal / tally.successful:.2f}" if tally.successful else "-",
        "outcomes": _counts(tally.outcomes),
        "errors": _counts(tally.errors),
    }


def numbers_rows(aggregator: Aggregator) -> list[dict[str, Any]]:
    """The Conversations table: one row per persona (by name), then the whole run's."""
    rows = [_numbers_row(name, tally) for name, tally in sorted(aggregator.personas.items())]
    rows.append(_numbers_row(ALL_PERSONAS, aggregator.run))
    return rows


# -- the transcripts --------------------------------------------------------------------------------------


def failed(record: ConversationRecord) -> bool:
    return record.outcome != Outcome.GOAL_REACHED


def reason(record: ConversationRecord) -> str:
    """Why a conversation ended as it did, in a few words."""
    if record.error is not None:
        status = f" {record.error.status_code}" if record.error.status_code else ""
        return f"{record.error.kind.value}{status}: {record.error.message}"
    if record.simulator_fault is not None:
        return f"simulator: {record.simulator_fault.value}"
    return record.stop_reason or ""


@dataclass(slots=True)
class TranscriptTail:
    """Follows one run's journal and keeps its latest finished conversations and its latest failed
    ones (`kept` of each): what the tab and the page show, bounded however long the run."""

    kept: int = KEPT
    run_dir: Path | None = None
    offset: int = 0
    latest: deque[ConversationRecord] = field(default_factory=deque)
    latest_failed: deque[ConversationRecord] = field(default_factory=deque)

    def follow(self, run_dir: Path) -> None:
        """Read what the journal of the run in `run_dir` gained since the last call (a new run: anew)."""
        if run_dir != self.run_dir:
            self.run_dir, self.offset = run_dir, 0
            self.latest, self.latest_failed = deque(maxlen=self.kept), deque(maxlen=self.kept)
        path = run_dir / JOURNAL_NAME
        try:
            size = path.stat().st_size
        except OSError:  # not written yet
            return
        if size < self.offset:  # another file under the same name: read it from the start
            self.offset = 0
        if size == self.offset:
            return
        start = max(self.offset, size - _READ_CAP)
        with path.open("rb") as journal:
            journal.seek(start)
            data = journal.read(size - start)
        if start > self.offset and b"\n" in data:  # skipped ahead: the first line is a part
            data = data[data.index(b"\n") + 1 :]
            start = size - len(data)
        complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
        self.offset = start + len(complete)
        for line in complete.splitlines():
            if line.strip():
                self._add(line)

    def _add(self, line: bytes) -> None:
        try:
            record = ConversationRecord.from_document(from_json(line))
        except (ValueError, KeyError, TypeError):
            log.warning("%s: skipping a journal line that is no conversation record", self.run_dir)
            return
        self.latest.append(record)
        if failed(record):
            self.latest_failed.append(record)

    def records(self) -> list[ConversationRecord]:
        """The kept conversations, failed first, each group newest first."""
        seen: set[str] = set()
        out: list[ConversationRecord] = []
        for record in [*reversed(self.latest_failed), *reversed(self.latest)]:
            if record.session_id not in seen:
                seen.add(record.session_id)
                out.append(record)
        out.sort(key=lambda r: not failed(r))  # stable: newest first within each group
        return out


def _short(text: str | None, limit: int = _TAB_TEXT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _time_of(stamp: str | None) -> str:
    return (stamp or "")[11:19] or "-"  # HH:MM:SS of an ISO timestamp


def transcript_rows(records: Iterable[ConversationRecord]) -> list[dict[str, Any]]:
    """The Transcripts table: a row per conversation, its last turns condensed into one cell."""
    rows = []
    for record in records:
        parts = []
        for turn in record.turns[-_TAB_TURNS:]:
            said = f"#{turn.iteration} user: {_short(turn.user_text)}"
            if turn.reply_text is not None:
                said += f" / agent: {_short(turn.reply_text)}"
            if turn.error is not None:
                said += f" / error {turn.error.kind.value}: {_short(turn.error.message)}"
            parts.append(said)
        rows.append(
            {
                "finished": _time_of(record.finished_at),
                "persona": record.persona,
                "outcome": record.outcome.value if record.outcome else "unknown",
                "reason": _short(reason(record)),
                "turns": record.iterations,
                "transcript": " | ".join(parts) or "-",
                "session": record.session_id,
            }
        )
    return rows


def select(
    records: Iterable[ConversationRecord], *, outcome: str = "", persona: str = "", text: str = ""
) -> Iterator[ConversationRecord]:
    """The page's filter. `outcome`: "failed" (every outcome but goal_reached), one outcome, or "" (any);
    `persona`: a persona's name or ""; `text`: a case-insensitive part of any message, reason or the
    session id, or ""."""
    needle = text.strip().casefold()
    for record in records:
        if outcome == "failed" and not failed(record):
            continue
        if outcome not in ("", "failed") and (record.outcome.value if record.outcome else "") != outcome:
            continue
        if persona and record.persona != persona:
            continue
        if needle and not any(needle in hay.casefold() for hay in _haystack(record)):
            continue
        yield record


def _haystack(record: ConversationRecord) -> Iterator[str]:
    yield record.session_id
    yield reason(record)
    for turn in record.turns:
        yield turn.user_text
        yield turn.reply_text or ""
        if turn.error is not None:
            yield turn.error.message


# -- Locust's web UI --------------------------------------------------------------------------------------


def _templates() -> jinja2.Environment:
    # PackageLoader reads the template from the installed package (wheel or editable alike).
    return jinja2.Environment(
        loader=jinja2.PackageLoader("convoload.load", "templates"),
        autoescape=True,  # every message of an agent or a simulated user is escaped
        undefined=jinja2.StrictUndefined,
    )


class ConversationsTab:
    """What the tab needs between requests: the journal's tail, and the runs this process recorded."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.tail = TranscriptTail()
        self.runs: OrderedDict[str, Path] = OrderedDict()  # run id -> folder, the latest last
        self._page = _templates().get_template("conversations.html.j2")

    def now(self) -> LiveRun | None:
        """The current run, its journal read up to now, remembered among the runs of this process."""
        run = current_run(self.environment)
        if run is None:
            return None
        self.remember(run)
        self.tail.follow(run.run_dir)
        return run

    def remember(self, run: LiveRun) -> None:
        self.runs[run.run_id] = run.run_dir
        self.runs.move_to_end(run.run_id)
        while len(self.runs) > _KNOWN_RUNS:
            self.runs.popitem(last=False)

    def extended_stats(self) -> list[dict[str, Any]]:
        run = self.now()
        numbers = numbers_rows(run.aggregator) if run is not None else []
        transcripts = transcript_rows(self.tail.records()) if run is not None else []
        return [{"key": NUMBERS_TAB, "data": numbers}, {"key": TRANSCRIPTS_TAB, "data": transcripts}]

    def file(self, run_id: str, name: str) -> Path:
        """A file of a run of this process, by its path inside the run's folder; 404 when it is not
        there or the path leads out of the folder."""
        run_dir = self.runs.get(run_id)
        if run_dir is None:
            abort(404, description=f"no run {run_id} in this Locust process")
        folder = run_dir.resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(folder) or path == folder:
            abort(404, description="not a file of the run")
        if not path.is_file():
            if name == REPORT_NAME:
                abort(404, description=f"run {run_id} has no report yet: it is written when its test stops")
            abort(404, description=f"run {run_id} has no file {name}")
        return path

    def page(self) -> str:
        run = self.now()
        outcome = request.args.get("outcome", "")
        persona = request.args.get("persona", "")
        text = request.args.get("q", "")
        records = self.tail.records() if run is not None else []
        shown = list(select(records, outcome=outcome, persona=persona, text=text))
        personas = sorted({r.persona for r in records} | set(run.aggregator.personas if run else ()))
        files = {}
        if run is not None:
            files = {
                name: (run.run_dir / name).is_file() for name in (REPORT_NAME, JOURNAL_NAME, "aggregate.json")
            }
        return self._page.render(
            run=run,
            files=files,
            numbers=numbers_rows(run.aggregator) if run is not None else [],
            number_columns=NUMBERS_COLUMNS,
            records=shown,
            kept=len(records),
            keep=self.tail.kept,
            failed=failed,
            reason=reason,
            outcomes=[o.value for o in Outcome],
            personas=personas,
            chosen={"outcome": outcome, "persona": persona, "q": text},
            earlier=[run_id for run_id in reversed(self.runs) if run is None or run_id != run.run_id],
            file_url=lambda run_id, name: url_for("convoload.run_file", run_id=run_id, name=name),
        )


def add_conversations_tab(environment: Any, web_ui: Any) -> ConversationsTab:
    """Add the Conversations and Transcripts tabs, their page and download links to Locust's web UI
    (before it starts serving: Locust's init event)."""
    tab = ConversationsTab(environment)
    web_ui.template_args.update(
        {
            "extended_tabs": [
                {"title": "Conversations", "key": NUMBERS_TAB},
                {"title": "Transcripts", "key": TRANSCRIPTS_TAB},
            ],
            "extended_tables": [
                {"key": NUMBERS_TAB, "structure": NUMBERS_COLUMNS},
                {"key": TRANSCRIPTS_TAB, "structure": TRANSCRIPT_COLUMNS},
            ],
            # Relative, like Locust's own links: they work under --web-base-path too.
            "extended_csv_files": [
                {"href": "./convoload/conversations", "title": "convoload: conversations and transcripts"},
                {"href": "./convoload/report", "title": "convoload: the run's report (report.html)"},
                {"href": "./convoload/journal", "title": "convoload: the run's journal (journal.jsonl)"},
            ],
        }
    )
    base = (getattr(environment.parsed_options, "web_base_path", None) or "").rstrip("/")
    blueprint = Blueprint("convoload", __name__, url_prefix=f"{base}/convoload")
    guarded = web_ui.auth_required_if_enabled

    @blueprint.route("/conversations")
    @guarded
    def conversations() -> Response:
        return Response(tab.page(), mimetype="text/html")

    @blueprint.route("/report")
    @guarded
    def report() -> Any:
        return _current_file(tab, REPORT_NAME)

    @blueprint.route("/journal")
    @guarded
    def journal() -> Any:
        return _current_file(tab, JOURNAL_NAME)

    @blueprint.route("/runs/<run_id>/<path:name>")
    @guarded
    def run_file(run_id: str, name: str) -> Any:
        tab.now()  # the current run is one of the known ones even before the tab was looked at
        path = tab.file(run_id, name)
        inline = path.suffix in (".html", ".json", ".csv")
        return send_file(
            path,
            as_attachment=not inline,
            download_name=f"{run_id}-{path.name}" if not inline else None,
            mimetype="application/x-ndjson" if path.suffix == ".jsonl" else None,
            max_age=0,
        )

    web_ui.app.register_blueprint(blueprint)

    @web_ui.app.after_request
    def add_extended_stats(response: Response) -> Response:
        # The page polls /stats/requests while a test runs: the tabs' rows come with Locust's own.
        if request.endpoint != "locust.request_stats" or response.status_code != 200 or not response.is_json:
            return response
        try:
            stats = {**response.get_json(), "extended_stats": tab.extended_stats()}
        except Exception:  # the tab never breaks Locust's own statistics
            log.exception("convoload: could not add the Conversations tab's rows")
            return response
        response.set_data(json.dumps(stats))
        return response

    # A test that ended (and the one that begins) stays downloadable after the process moved on.
    environment.events.test_start.add_listener(lambda **_: _remember_current(tab))
    environment.events.test_stop.add_listener(lambda **_: _remember_current(tab))
    return tab


def _remember_current(tab: ConversationsTab) -> None:
    run = current_run(tab.environment)
    if run is not None:
        tab.remember(run)


def _current_file(tab: ConversationsTab, name: str) -> Any:
    run = tab.now()
    if run is None:
        abort(404, description="no convoload run yet")
    tab.file(run.run_id, name)  # 404 while it is not there
    return redirect(url_for("convoload.run_file", run_id=run.run_id, name=name))
