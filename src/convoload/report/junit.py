"""`--junit-xml`: a finished run, pipeline or capacity search as JUnit XML, the report CI servers read.

The layout is the one of the Jenkins xUnit plugin's junit-10.xsd (also what GitLab and GitHub test
reporters parse): `<testsuites>` holding one `<testsuite>` per run (or per pipeline scenario), each
with its `<properties>` and one `<testcase>` per conversation (a capacity search: per step). A case
that missed its goal carries `<failure>` (the reason as `message`, the last turns as its text), a
target error `<error>`, a conversation cut off or broken by the simulated user `<skipped>`.

Conversations are read from each run's journal one at a time and their cases spooled to a temporary
file while they are counted (a `<testsuite>`'s counts are attributes of its opening tag), so a run of
any length is written in constant memory.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal
from xml.sax.saxutils import escape, quoteattr

from convoload.envsecrets import redact
from convoload.model import ConversationRecord, Outcome
from convoload.model.capacity import CapacityResult, StepStats, users
from convoload.model.judgement import Judgement
from convoload.model.pipeline import PipelineResults, ScenarioResult
from convoload.model.report import RunReport
from convoload.report.aggregate import journal_records
from convoload.store.journal import JOURNAL_NAME
from convoload.store.judgements import JudgementsBySession, conversation_file, iter_judgements

Status = Literal["passed", "failure", "error", "skipped"]

LAST_TURNS = 3  # turns of a failed conversation's transcript a case carries
_MESSAGE_CHARS = 600  # of each message in those turns: a CI page shows them, not the whole reply

# Characters XML 1.0 cannot hold at all (control characters but tab and newlines, lone surrogates,
# U+FFFE/U+FFFF): an agent's reply may contain them, the file must still parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(slots=True)
class Gate:
    """A check over the whole run that a command was asked to make (--grade-floor, --min-users, ...):
    written as one more test case, failed when it did not hold."""

    name: str
    passed: bool
    message: str


@dataclass(slots=True)
class Case:
    """One `<testcase>`."""

    classname: str
    name: str
    time_s: float = 0.0
    status: Status = "passed"
    kind: str = ""  # the `type` of its failure, error or skipped element
    message: str = ""
    details: str = ""  # the element's text
    output: str = ""  # <system-out>
    file: str | None = None


@dataclass(slots=True)
class _Tally:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    time_s: float = 0.0

    def add(self, case: Case) -> None:
        self.tests += 1
        self.time_s += case.time_s
        if case.status == "failure":
            self.failures += 1
        elif case.status == "error":
            self.errors += 1
        elif case.status == "skipped":
            self.skipped += 1


@dataclass(slots=True)
class Suite:
    name: str
    cases: Iterable[Case]
    properties: list[tuple[str, str]] = field(default_factory=list)
    timestamp: str | None = None


def clean(text: str) -> str:
    """Text as XML can hold it, with no known secret (the records are redacted: a last guard)."""
    return _NOT_XML.sub("\ufffd", redact(text))


def _time(seconds: float) -> str:
    # junit-10.xsd's SUREFIRE_TIME: digits, at most three decimals.
    return f"{max(seconds, 0.0):.3f}"


def _write_case(out: IO[str], case: Case) -> None:
    attributes = f"classname={quoteattr(clean(case.classname))} name={quoteattr(clean(case.name))}"
    attributes += f' time="{_time(case.time_s)}"'
    if case.file:
        attributes += f" file={quoteattr(clean(case.file))}"
    out.write(f"    <testcase {attributes}>\n")
    if case.status != "passed":
        kind = f" type={quoteattr(clean(case.kind))}" if case.kind else ""
        out.write(f"      <{case.status}{kind} message={quoteattr(clean(case.message))}>")
        out.write(escape(clean(case.details)))
        out.write(f"</{case.status}>\n")
    if case.output:
        out.write(f"      <system-out>{escape(clean(case.output))}</system-out>\n")
    out.write("    </testcase>\n")


def write_junit(path: Path, name: str, suites: Iterable[Suite]) -> Path:
    """The suites as one JUnit XML file at `path` (written whole into a temporary file, then renamed:
    a CI step never reads half a report)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    total = _Tally()
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out, tempfile.TemporaryDirectory() as spool_dir:
        bodies: list[tuple[Suite, _Tally, Path]] = []
        for index, suite in enumerate(suites):
            tally = _Tally()
            spool = Path(spool_dir) / f"suite-{index}.xml"
            with spool.open("w", encoding="utf-8") as cases:
                for case in suite.cases:
                    tally.add(case)
                    _write_case(cases, case)
            bodies.append((suite, tally, spool))
            total.tests += tally.tests
            total.failures += tally.failures
            total.errors += tally.errors
            total.time_s += tally.time_s
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(
            f'<testsuites name={quoteattr(clean(name))} tests="{total.tests}" '
            f'failures="{total.failures}" errors="{total.errors}" time="{_time(total.time_s)}">\n'
        )
        for suite, tally, spool in bodies:
            stamp = f" timestamp={quoteattr(suite.timestamp)}" if suite.timestamp else ""
            out.write(
                f'  <testsuite name={quoteattr(clean(suite.name))} tests="{tally.tests}" '
                f'failures="{tally.failures}" errors="{tally.errors}" skipped="{tally.skipped}" '
                f'time="{_time(tally.time_s)}"{stamp}>\n'
            )
            if suite.properties:
                out.write("    <properties>\n")
                for key, value in suite.properties:
                    out.write(
                        f"      <property name={quoteattr(clean(key))} value={quoteattr(clean(value))}/>\n"
                    )
                out.write("    </properties>\n")
            with spool.open(encoding="utf-8") as cases:
                shutil.copyfileobj(cases, out)
            out.write("  </testsuite>\n")
        out.write("</testsuites>\n")
    os.replace(tmp, path)
    return path


# -- conversations -------------------------------------------------------------------------------------


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def last_turns(record: ConversationRecord, turns: int = LAST_TURNS) -> list[str]:
    """The conversation's last `turns` turns as lines: `user: ...`, `agent (name): ...`, `error: ...`."""
    lines: list[str] = []
    shown = record.turns[-turns:] if turns > 0 else []
    if len(record.turns) > len(shown):
        lines.append(f"… {len(record.turns) - len(shown)} earlier turn(s)")
    for turn in shown:
        lines.append(f"[{turn.iteration}] user: {_short(turn.user_text)}")
        if turn.reply_text is not None:
            who = f"agent ({turn.agent})" if turn.agent else "agent"
            latency = f" [{turn.latency_ms / 1000:.2f} s]" if turn.latency_ms is not None else ""
            lines.append(f"[{turn.iteration}] {who}{latency}: {_short(turn.reply_text)}")
        if turn.error is not None:
            status = f" {turn.error.status_code}" if turn.error.status_code else ""
            lines.append(
                f"[{turn.iteration}] error {turn.error.kind.value}{status}: {_short(turn.error.message)}"
            )
    return lines


def failure_reason(record: ConversationRecord) -> str:
    """Why a conversation did not reach its goal, in one line."""
    outcome = record.outcome.value if record.outcome else "unfinished"
    turns = f"{record.iterations} turn{'s' if record.iterations != 1 else ''}"
    if record.error is not None:
        return f"{record.error.kind.value}: {record.error.message} (after {turns})"
    if record.outcome == Outcome.SIMULATOR_ERROR:
        fault = record.simulator_fault.value if record.simulator_fault else "unknown fault"
        return f"the simulated user broke the simulation ({fault}) after {turns}: not the agent's fault"
    reason = f": {record.stop_reason}" if record.stop_reason and record.stop_reason != outcome else ""
    return f"goal not reached: {outcome}{reason} after {turns}"


def _judge_failure(judgement: Judgement) -> str:
    failed = [c for c in judgement.criteria if not c.passed]
    why = "; ".join(f"{c.id}: {c.reason}" for c in failed[:3]) or "the rubric's pass rule failed"
    return f"judge ({judgement.rubric}) failed it: {why}"


def _artifact_path(path: Path) -> str:
    """The transcript's path relative to the working directory when it is under it (where a CI job's
    artifacts are), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def conversation_case(
    record: ConversationRecord,
    run_dir: Path,
    *,
    classname: str | None = None,
    passed: bool | None = None,
    judgement: Judgement | None = None,
    turns: int = LAST_TURNS,
) -> Case:
    """A conversation as a test case. `passed`: the caller's own verdict (a pipeline scenario's); by
    default reaching the goal passes. Interrupted and simulator-broken conversations are skipped (they
    tested nothing of the agent), an error of the target is an error, the rest failures; a conversation
    the judge failed fails too."""
    transcript = conversation_file(run_dir, record.user_id, record.session_id)
    case = Case(
        classname=classname or record.persona,
        name=f"{record.persona} #{record.user_id} {record.session_id}",
        time_s=record.total_time_ms / 1000,
    )
    ok = record.goal_reached if passed is None else passed
    if record.outcome == Outcome.INTERRUPTED:
        case.status, case.kind = "skipped", "interrupted"
        case.message = f"interrupted after {record.iterations} turn(s): cut off by the end of the test"
    elif record.outcome == Outcome.SIMULATOR_ERROR:
        case.status, case.kind, case.message = "skipped", "simulator_error", failure_reason(record)
    elif not ok and record.error is not None and record.outcome == Outcome.ERROR:
        case.status, case.kind, case.message = "error", record.error.kind.value, failure_reason(record)
    elif not ok:
        case.status = "failure"
        case.kind = record.outcome.value if record.outcome else "unfinished"
        case.message = failure_reason(record)
        if passed is not None and record.goal_reached:
            case.message = "the scenario's success rule or a domain check failed it"
    elif judgement is not None and judgement.passed is False:
        case.status, case.kind, case.message = "failure", "judge", _judge_failure(judgement)
    where = _artifact_path(transcript)
    if case.status != "passed":
        case.details = "\n".join([case.message, "", *last_turns(record, turns), "", f"transcript: {where}"])
    output = [f"outcome: {record.outcome.value if record.outcome else 'unfinished'}", f"transcript: {where}"]
    if judgement is not None and judgement.score is not None:
        output.append(f"judge: {'passed' if judgement.passed else 'failed'} (score {judgement.score:.2f})")
    if case.status in ("failure", "error") and not Path(where).is_absolute():
        # GitLab links a failed case to this file of the job's artifacts (paths relative to the project).
        output.append(f"[[ATTACHMENT|{where}]]")
    case.output = "\n".join(output)
    return case


def _run_cases(run_dir: Path, *, turns: int) -> Iterator[Case]:
    verdicts = JudgementsBySession(iter_judgements(run_dir))
    for record in journal_records(Path(run_dir) / JOURNAL_NAME):
        yield conversation_case(record, run_dir, judgement=verdicts.get(record.session_id), turns=turns)


def _gate_cases(gates: Iterable[Gate], classname: str) -> Iterator[Case]:
    for gate in gates:
        yield Case(
            classname=classname,
            name=gate.name,
            status="passed" if gate.passed else "failure",
            kind="gate",
            message=gate.message,
            details=gate.message,
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def run_properties(report: RunReport) -> list[tuple[str, str]]:
    """What a run's suite says about the whole run."""
    summary = report.summary
    turn = report.latency.turn_ms
    target = report.run.target
    url = (
        target if isinstance(target, str) else (target.url or target.name or target.type) if target else None
    )
    out = [
        ("run_id", report.run_id or ""),
        ("grade", report.grade or "-"),
        ("goal_rate", _pct(summary.success_rate)),
        ("conversations", str(summary.total_conversations)),
        ("turn_p50_ms", "-" if turn.p50 is None else f"{turn.p50:.1f}"),
        ("turn_p95_ms", "-" if turn.p95 is None else f"{turn.p95:.1f}"),
        ("cost_usd", f"{summary.total_cost_usd:.6f}"),
        ("complete", str(report.complete).lower()),
    ]
    if report.run.seed is not None:
        out.append(("seed", str(report.run.seed)))
    if url:
        out.append(("target", str(url)))
    return out


def run_suite(report: RunReport, *, gates: Iterable[Gate] = (), turns: int = LAST_TURNS) -> Suite:
    """A run (`run`, `stress`): one case per conversation of its journal, then its gates."""
    run_dir = report.run_dir
    if run_dir is None:
        raise ValueError("the report has no run folder to read its journal from")
    gates = list(gates)

    def cases() -> Iterator[Case]:
        yield from _run_cases(run_dir, turns=turns)
        yield from _gate_cases(gates, "convoload")

    return Suite(
        name=f"convoload run {report.run_id or run_dir.name}",
        cases=cases(),
        properties=run_properties(report),
        timestamp=report.run.started_at,
    )


def write_run_junit(
    path: Path, report: RunReport, *, gates: Iterable[Gate] = (), turns: int = LAST_TURNS
) -> Path:
    return write_junit(path, "convoload", [run_suite(report, gates=gates, turns=turns)])


# -- pipeline ------------------------------------------------------------------------------------------

# A scenario's verdict on one of its conversations: the scenario's name, the record -> passed.
Verdict = Callable[[str, ConversationRecord], bool]


def _scenario_cases(
    scenario: ScenarioResult, verdict: Verdict, gate: Gate | None, turns: int
) -> Iterator[Case]:
    flagged = {str(m.get("session_id")) for check in scenario.checks.values() for m in check.mismatches}
    for folder in scenario.runs:
        run_dir = Path(folder)
        verdicts = JudgementsBySession(iter_judgements(run_dir))
        for record in journal_records(run_dir / JOURNAL_NAME):
            passed = verdict(scenario.name, record) and record.session_id not in flagged
            yield conversation_case(
                record,
                run_dir,
                classname=f"{scenario.name}.{record.persona}",
                passed=passed,
                judgement=verdicts.get(record.session_id),
                turns=turns,
            )
    for name, check in scenario.checks.items():
        if check.error:
            yield Case(
                classname=scenario.name,
                name=f"check {name}",
                status="error",
                kind="check_error",
                message=f"the {name} check could not run: {check.error}",
                details=check.error,
            )
        elif check.checked:
            bad = len(check.mismatches)
            yield Case(
                classname=scenario.name,
                name=f"check {name}",
                status="failure" if bad else "passed",
                kind="mismatch",
                message=f"{bad} of {check.checked} item(s) contradict the system's data",
                details="\n".join(str(m) for m in check.mismatches[:10]),
            )
    if gate is not None:
        yield from _gate_cases([gate], scenario.name)


def pipeline_suites(
    results: PipelineResults,
    verdict: Verdict,
    *,
    grade_floor: str | None = None,
    turns: int = LAST_TURNS,
) -> Iterator[Suite]:
    """One suite per scenario (its conversations, its checks, its grade against --grade-floor), and one
    of skipped cases for the scenarios a stop left unstarted."""
    from convoload.report.grading import at_least

    for scenario in results.scenarios:
        gate = None
        if grade_floor is not None:
            gate = Gate(
                "grade",
                at_least(scenario.grade, grade_floor),
                f"grade {scenario.grade} (floor {grade_floor})",
            )
        properties = [
            ("grade", scenario.grade),
            ("health", scenario.health),
            ("success_rate", _pct(scenario.success_rate)),
            ("turn_p95_ms", "-" if scenario.latency_ms.p95 is None else f"{scenario.latency_ms.p95:.1f}"),
            *((f"metric.{k}", f"{v:.4f}") for k, v in scenario.integration.items()),
        ]
        if scenario.pass_k is not None:
            properties.append((f"pass^{scenario.pass_k.k}", f"{scenario.pass_k.value:.4f}"))
        yield Suite(
            name=scenario.name,
            cases=_scenario_cases(scenario, verdict, gate, turns),
            properties=properties,
            timestamp=results.timestamp,
        )
    if results.skipped_scenarios:
        why = f"stopped by {results.stopped_by}" if results.stopped_by else "the pipeline was stopped"
        yield Suite(
            name="not started",
            cases=[
                Case(classname=name, name=name, status="skipped", kind="not_started", message=why)
                for name in results.skipped_scenarios
            ],
        )


def write_pipeline_junit(
    path: Path,
    results: PipelineResults,
    verdict: Verdict,
    *,
    grade_floor: str | None = None,
    turns: int = LAST_TURNS,
) -> Path:
    name = f"convoload pipeline {results.pipeline_id}"
    return write_junit(path, name, pipeline_suites(results, verdict, grade_floor=grade_floor, turns=turns))


# -- capacity ------------------------------------------------------------------------------------------


def _step_case(step: StepStats, run_dir: Path | None) -> Case:
    checks = [f"{'met  ' if c.passed else 'BROKE'} {c.text}" for c in step.checks]
    numbers = [
        f"conversations started/finished: {step.conversations_started}/{step.conversations_finished}",
        f"goal rate: {_pct(step.goal_rate)}; error rate: {_pct(step.error_rate)}",
        "turn s p50/p95/p99: "
        + "/".join(
            "-" if v is None else f"{v:.2f}" for v in (step.p50_turn_s, step.p95_turn_s, step.p99_turn_s)
        ),
    ]
    if step.errors_by_kind:
        numbers.append("errors: " + ", ".join(f"{k} {v}" for k, v in step.errors_by_kind.items()))
    failed = [
        f"{c.persona} #{c.user_id} {c.outcome}: "
        + (_artifact_path(run_dir / c.transcript) if run_dir is not None else c.transcript)
        for c in step.failed_conversations[:10]
    ]
    case = Case(
        classname="capacity",
        name=f"step {step.index + 1}: {users(step.users)}",
        time_s=max(step.end_s - step.start_s, 0.0),
        output="\n".join([*checks, *numbers, *(["failed conversations:", *failed] if failed else [])]),
    )
    if not step.passed:
        case.status, case.kind = "failure", "slo"
        broken = ", ".join(c.text for c in step.broken) or "no SLO could be checked"
        case.message = f"{users(step.users)} broke {broken}" + (" (cut short)" if step.cut_short else "")
        case.details = "\n".join([case.message, "", *checks, *numbers, *failed])
    return case


def capacity_suite(
    result: CapacityResult, *, run_dir: Path | None = None, gates: Iterable[Gate] = ()
) -> Suite:
    """A capacity search: one case per step with its SLO verdicts, steps not run skipped, then gates."""
    settings = result.settings
    gates = list(gates)

    def cases() -> Iterator[Case]:
        for step in result.steps:
            yield _step_case(step, run_dir)
        why = result.stopped_early or "the search stopped before it"
        for index, count in enumerate(settings.steps[len(result.steps) :], start=len(result.steps)):
            yield Case(
                classname="capacity",
                name=f"step {index + 1}: {users(count)}",
                status="skipped",
                kind="not_run",
                message=why,
            )
        yield from _gate_cases(gates, "capacity")

    return Suite(
        name=f"convoload capacity {result.run_id}",
        cases=cases(),
        properties=[
            ("run_id", result.run_id),
            ("steps", ",".join(map(str, settings.steps))),
            ("slos", " ".join(s.text for s in settings.slos)),
            ("knee_users", "-" if result.verdict.knee_users is None else str(result.verdict.knee_users)),
            ("verdict", result.verdict.line),
        ],
    )


def write_capacity_junit(
    path: Path, result: CapacityResult, *, run_dir: Path | None = None, gates: Iterable[Gate] = ()
) -> Path:
    return write_junit(path, "convoload", [capacity_suite(result, run_dir=run_dir, gates=gates)])
