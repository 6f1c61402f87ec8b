"""`convoload monitor`: one long-running process that watches an agent and tells people when it degrades.

Jobs run on APScheduler's gevent scheduler, each in its own greenlet: metrics collection (a few
synthetic conversations, then the window's metrics and the alert rules), health checks, a mini
stress test, the pipeline, and the daily comprehensive test with its report. A job never overlaps
itself and a missed run is made up once, not in a burst; the heavy jobs (stress, pipeline, daily)
also wait for each other so that one's load does not skew the other's figures.

Everything lands in the results store as it happens; the dashboard (its own process) reads it there.

With the conversation judge on (the monitor config's `judge`, else the agent config's
`judge.enabled`), each collection judges the synthetic conversations that finished since the last
one, with the agent config's `judge` section: the window's judge score, pass ratio and judge cost
become metrics (and the `judge_score` alert rule's value), and the pipeline job judges its scenarios.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import gevent.lock
import gevent.pool
from apscheduler.schedulers.gevent import GeventScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from gevent import GreenletExit

from convoload.config import Config, Override, apply_overrides
from convoload.envsecrets import redact
from convoload.events import ConversationFinished, ConversationStarted, EventBus
from convoload.load.context import RunContext, new_run_id
from convoload.load.plan import RunPlan
from convoload.model import ConversationRecord, Outcome
from convoload.model.judgement import Judgement
from convoload.model.pipeline import RESULTS_FILE
from convoload.model.report import RunReport
from convoload.monitor import logs
from convoload.monitor.alerts import Alert, AlertManager, Dispatcher, Notification
from convoload.monitor.config import MonitorConfig, require_dashboard_token
from convoload.monitor.daily import write_daily_report
from convoload.monitor.health import ComponentStatus, check_component, check_provider
from convoload.monitor.jobs import (
    CollectSummary,
    ComponentCheck,
    DailySummary,
    HealthSummary,
    JobFailure,
    PipelineSummary,
    StressSummary,
    Summary,
)
from convoload.monitor.store import MonitorStore, Sample
from convoload.monitor.system import Watched, resolve, store_origin, store_url
from convoload.monitor.window import ConversationWindow
from convoload.signals import StopRequest, exit_code, exit_now, install, say, signal_name

if TYPE_CHECKING:
    from convoload.judge.setup import JudgeResources, RubricChooser

log = logging.getLogger("convoload.monitor")
JOBS = ("collect", "health", "stress", "pipeline", "daily")
HEAVY = {"stress", "pipeline", "daily"}
STATUS_LEVEL = {"healthy": 0, "warning": 1, "critical": 2}
ALERT_STATE_KEY = "alertmanager"
JobResult = tuple[Summary, str | None, str | None]  # summary, run id, report file


class Monitor:
    def __init__(
        self,
        config: MonitorConfig,
        *,
        clock: Callable[[], float] = time.time,
        on_job: Callable[[str, str, Summary | None], None] | None = None,
        on_alert: Callable[[Notification], None] | None = None,
    ) -> None:
        """`on_job(name, "started" | "ok" | "failed", summary)` hears of every job (its summary when ok,
        a JobFailure when failed, None when started), `on_alert` of every notification (firing,
        resolved, repeated) as the rules produce it; the CLI prints both."""
        self.config = config
        self.on_job = on_job
        self.on_alert = on_alert
        self.clock = clock
        self.runs_dir = Path(config.runs_dir).resolve()
        require_dashboard_token(config)  # before anything starts: a refused dashboard leaves nothing behind
        self.store = MonitorStore(store_url(config), origin=store_origin(config))
        self.window = ConversationWindow(config.window_s, clock)
        self.manager = AlertManager(config.alerting, clock=clock)
        self.dispatcher = Dispatcher.from_config(config.alerting.channels)
        self.values: dict[str, float | None] = {}  # what the alert rules see, by metric name
        self.components: dict[str, ComponentStatus] = {}
        self.status = "healthy"
        self.dashboard_url: str | None = None
        self.watched: Watched | None = None
        self._resources = ExitStack()
        self._scheduler: GeventScheduler | None = None
        self._stop = gevent.event.Event()
        self._heavy = gevent.lock.Semaphore()
        self._alerts_lock = gevent.lock.Semaphore()
        self._running: dict[str, gevent.Greenlet] = {}
        self._deliveries = gevent.pool.Group()
        self._finished: Counter[str] = Counter()
        self._job_done = gevent.event.Event()
        self._probes: RunContext | None = None
        self._probe_day: str | None = None
        self._in_flight = 0
        self._peak = 0
        self._log_handlers: list[logging.Handler] = []
        self._stopping = False
        self._stop_runs = StopRequest()  # set at shutdown: the jobs' load tests end early
        self.signum: int | None = None  # the signal that stopped serve()
        self._judge: tuple[JudgeResources, RubricChooser] | None = None  # started when judging
        self._unjudged: list[ConversationRecord] = []  # probes finished since the last collection

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the watched system (when bundled), the dashboard and the scheduler; returns at once."""
        self._log_handlers = logs.setup_logs(
            Path(self.config.logs.dir).resolve(),
            max_bytes=self.config.logs.max_bytes,
            backups=self.config.logs.backups,
        )
        self._resources.callback(logs.close_logs, self._log_handlers)
        abandoned = self.store.abandon_running_jobs()
        if abandoned:
            log.warning("%d job(s) left running by a previous monitor were marked failed", abandoned)
        saved = self.store.get_state(ALERT_STATE_KEY)
        if saved:
            self.manager.restore(saved)  # no second notification for what was already announced
        try:
            self.watched = resolve(self.config, self._resources)
            if self.judging:
                self._start_judge(self.watched.agent)
            if self.config.dashboard.enabled:
                self._start_dashboard()
            self._scheduler = self._schedule()
            self._scheduler.start()
        except BaseException:
            self._resources.close()
            raise
        log.info(logs.logfmt(event="monitor_started", store=self.store.url, dashboard=self.dashboard_url))

    def serve(self) -> None:
        """After `start`: run until SIGTERM or SIGINT (or `request_stop`), then shut down gracefully.

        A second signal exits at once (see convoload.signals); `exit_code` says which signal ended it.
        """
        undo = install(self._signalled)
        try:
            self._stop.wait()
        finally:
            try:
                self.shutdown()  # a second signal during it exits at once
            finally:
                undo()

    def _signalled(self, signum: int) -> None:
        if self.signum is not None:
            exit_now(signum)
        self.signum = signum
        say(f"{signal_name(signum)}: stopping; jobs under way end now, recorded (again to exit at once)")
        self.request_stop()

    @property
    def judging(self) -> bool:
        """Whether the monitor judges its conversations (see the module's docstring)."""
        if self.config.judge is not None:
            return self.config.judge
        return self.watched is not None and self.watched.agent.judge.enabled

    def _start_judge(self, agent: Config) -> None:
        """The judge's chain (the local provider started once), every persona's rubric checked now."""
        from convoload.judge.setup import JudgeResources, RubricChooser
        from convoload.personas import resolve_personas

        chooser = RubricChooser(agent)
        if agent.personas:
            for persona in resolve_personas(
                agent.personas, agent.base_dir, source=f"{agent.source}: personas"
            ):
                chooser.rubric(persona.name)
        resources = self._resources.enter_context(JudgeResources(agent))
        self._judge = (resources, chooser)

    def _judge_probes(self, context: RunContext) -> None:
        """Judge the probes finished since the last collection; their verdicts join the window and the
        probe run's judgements.jsonl."""
        from convoload.envsecrets import redact_json
        from convoload.judge.runner import JUDGEMENTS_NAME

        records, self._unjudged = self._unjudged, []
        if self._judge is None or not records:
            return
        resources, chooser = self._judge
        judge = resources.judge

        def one(record: ConversationRecord) -> Judgement:
            try:
                return judge.judge(chooser.task(record))
            except Exception as exc:  # a rubric's reference facts failed: this verdict only
                log.exception("judging %s failed", record.session_id)
                return judge.failed(record, chooser.spec_for(record.persona)[0], f"reference facts: {exc!r}")

        pool = gevent.pool.Pool(max(1, resources.config.judge.concurrency))
        with (context.run_dir / JUDGEMENTS_NAME).open("ab") as out:
            for judgement in pool.imap(one, records):
                self.window.add_judgement(judgement)
                out.write(redact_json(judgement.model_dump_json().encode()) + b"\n")

    @property
    def stop_request(self) -> StopRequest:
        """Set at shutdown (or by a caller's signal handler): the jobs' load tests end early, recorded."""
        return self._stop_runs

    @property
    def exit_code(self) -> int | None:
        """130 or 143 when SIGINT or SIGTERM stopped the monitor, else None."""
        return exit_code(self.signum) if self.signum is not None else None

    def request_stop(self) -> None:
        self._stop.set()

    def shutdown(self, grace_s: float = 30.0) -> None:
        """Stop scheduling, let running jobs wrap up (load jobs are told to stop now), record everything."""
        self._stopping = True
        # Jobs under way end the way a load test's time limit ends it: conversations under way are cut
        # off and recorded as interrupted, and each job records its (incomplete) run and its result.
        reason = signal_name(self.signum) if self.signum is not None else "the monitor's shutdown"
        self._stop_runs.set(reason, self.signum)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        running = dict(self._running)
        gevent.joinall(list(running.values()), timeout=grace_s)
        for greenlet in running.values():
            greenlet.kill(block=True, timeout=5)
        self._deliveries.join(timeout=grace_s)
        self._close_probes()
        self._save_alerts()
        log.info(logs.logfmt(event="monitor_stopped"))  # while the log files are still attached
        self._resources.close()
        self.store.close()

    def wait_jobs(self, counts: dict[str, int], timeout_s: float) -> bool:
        """Block until each named job has finished at least that many times (for tests and tools)."""
        deadline = time.monotonic() + timeout_s
        while any(self._finished[name] < n for name, n in counts.items()):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._job_done.clear()
            if all(self._finished[name] >= n for name, n in counts.items()):
                break
            self._job_done.wait(timeout=left)
        return True

    # -- scheduling --------------------------------------------------------------------------------

    def _schedule(self) -> GeventScheduler:
        zone = ZoneInfo(self.config.timezone) if self.config.timezone else None
        scheduler = GeventScheduler(timezone=zone) if zone else GeventScheduler()
        # coalesce: missed runs are made up once; max_instances=1: a job never overlaps itself.
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        plan = self.config.schedule
        now = datetime.now(UTC)
        for name, job, first in (
            ("collect", plan.collect, now),
            ("health", plan.health, now),
            ("stress", plan.stress, None),
            ("pipeline", plan.pipeline, None),
        ):
            if not job.enabled or (name == "pipeline" and self.watched and self.watched.pipeline is None):
                continue
            trigger = IntervalTrigger(seconds=job.every_s)
            extra = {"next_run_time": first} if first else {}
            scheduler.add_job(self.run_job, trigger, args=[name], id=name, name=name, **defaults, **extra)
        if plan.daily.enabled:
            trigger = CronTrigger(hour=plan.daily.hour, minute=plan.daily.minute, timezone=scheduler.timezone)
            scheduler.add_job(self.run_job, trigger, args=["daily"], id="daily", name="daily", **defaults)
        return scheduler

    def next_runs(self) -> dict[str, datetime | None]:
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    def run_job(self, name: str) -> Summary | None:
        """Run one job now, recorded in the store; a failure is logged and recorded, never raised.

        Returns the job's summary, or None when it failed or the monitor is shutting down.
        """
        if self._stopping:
            return None
        self._running[name] = gevent.getcurrent()
        try:
            with self._heavy if name in HEAVY else nullcontext():
                if self._stopping:  # stopped while waiting for another load job
                    return None
                return self._run_recorded(name)
        except KeyboardInterrupt:  # the shutdown came while waiting for the load-job lock
            return None
        finally:
            self._running.pop(name, None)
            self._finished[name] += 1
            self._job_done.set()

    def _run_recorded(self, name: str) -> Summary | None:
        bodies: dict[str, Callable[[], JobResult]] = {
            "collect": self.collect,
            "health": self.health,
            "stress": self.stress,
            "pipeline": self.pipeline,
            "daily": self.daily,
        }
        job_id = self.store.start_job(name)
        self._tell(name, "started", None)
        started = time.perf_counter()
        try:
            summary, run_id, report = bodies[name]()
        except (Exception, KeyboardInterrupt, GreenletExit) as exc:
            stopped = isinstance(exc, KeyboardInterrupt | GreenletExit)
            if not stopped:
                log.exception("monitor job %s failed", name)
            error = "stopped by the monitor's shutdown" if stopped else redact(f"{type(exc).__name__}: {exc}")
            self.store.finish_job(job_id, status="failed", error=error)
            self._tell(name, "failed", JobFailure(error=error))
            if isinstance(exc, GreenletExit):
                raise
            return None
        finally:
            logs.PERFORMANCE.info(logs.logfmt(job=name, seconds=round(time.perf_counter() - started, 3)))
        self.store.finish_job(job_id, status="ok", run_id=run_id, report=report, summary=summary)
        self._tell(name, "ok", summary)
        return summary

    def _tell(self, name: str, state: str, summary: Summary | None) -> None:
        if self.on_job is not None:
            try:
                self.on_job(name, state, summary)
            except Exception:  # a listener must not fail the job
                log.exception("on_job listener failed")

    # -- jobs --------------------------------------------------------------------------------------

    def collect(self) -> JobResult:
        """A few synthetic conversations, then the window's metrics, samples and alert rules."""
        plan = self.config.schedule.collect
        context = self._probe_context()
        pool = gevent.pool.Pool(plan.concurrency)
        try:
            for _ in range(plan.conversations):
                if self._stop_runs.is_set():
                    break
                pool.spawn(context.converse, context.claim_index())
            gevent.wait([self._stop_runs.event, gevent.spawn(pool.join)], count=1)
        finally:
            pool.kill()  # a shutdown: conversations under way are recorded as interrupted
        self._judge_probes(context)
        metrics = self.window.metrics()
        totals = self.window.totals
        peak, self._peak = self._peak, self._in_flight
        samples = [
            Sample("convoload_conversations_window", metrics.conversations),
            Sample("convoload_concurrent_users", peak),
            Sample("convoload_tokens_total", totals.tokens),
            Sample("convoload_cost_usd_total", totals.cost_usd),
        ]
        if self._judge is not None:
            samples.append(Sample("convoload_judge_cost_usd_total", totals.judge_cost_usd))
        for name, value in (
            ("convoload_success_ratio", metrics.success_rate),
            ("convoload_error_ratio", metrics.error_rate),
            ("convoload_response_time_mean_seconds", metrics.response_time_mean_s),
            ("convoload_response_time_p95_seconds", metrics.response_time_p95_s),
            ("convoload_llm_fallback_ratio", metrics.fallback_rate),
            ("convoload_cost_per_success_usd", metrics.cost_per_success_usd),
            ("convoload_judge_score", metrics.judge_score),
            ("convoload_judge_pass_ratio", metrics.judge_pass_rate),
        ):
            if value is not None:
                samples.append(Sample(name, value))
        samples += [
            Sample("convoload_agent_transitions", n, {"from_agent": a, "to_agent": b})
            for (a, b), n in sorted(metrics.transitions.items())
        ]
        samples += [
            Sample("convoload_conversations_total", n, {"outcome": o})
            for o, n in sorted(totals.outcomes.items())
        ]
        samples += [
            Sample("convoload_turn_errors_total", n, {"kind": k})
            for k, n in sorted(totals.error_kinds.items())
        ]
        samples += [
            Sample("convoload_simulator_errors_total", n, {"fault": f})
            for f, n in sorted(totals.simulator_faults.items())
        ]
        self.store.add_samples(samples)
        self.values.update(
            {
                "success_rate": metrics.success_rate,
                "error_rate": metrics.error_rate,
                "response_time_mean_s": metrics.response_time_mean_s,
                "response_time_p95_s": metrics.response_time_p95_s,
                "fallback_rate": metrics.fallback_rate,
                "concurrent_users": float(peak),
                "judge_score": metrics.judge_score,
                "judge_pass_rate": metrics.judge_pass_rate,
            }
        )
        summary = CollectSummary(
            conversations=plan.conversations,
            window_conversations=metrics.conversations,
            success_rate=metrics.success_rate,
            error_rate=metrics.error_rate,
            p95_s=metrics.response_time_p95_s,
        )
        logs.PERFORMANCE.info(logs.logfmt(event="metrics", **summary.to_json(), concurrent_users=peak))
        self._evaluate_alerts()
        self.store.prune_samples(_iso(self.clock() - self.config.retention_days * 86400))
        return summary, context.run_id, None

    def health(self) -> JobResult:
        assert self.watched is not None
        timeout = self.config.schedule.health.timeout_s
        checks = [gevent.spawn(check_component, c, timeout) for c in self.watched.components]
        agent = self.watched.agent
        if agent.user.type in ("llm", "mixed"):  # the simulated users' own LLM providers
            from convoload.load.wiring import provider_specs

            for spec in provider_specs(agent):
                checks.append(gevent.spawn(check_provider, f"llm:{spec.label}", spec, timeout))
        gevent.joinall(checks)
        results = [g.value for g in checks if g.value is not None]
        samples = []
        for status in results:
            self.components[status.name] = status
            self.values[f"component_up:{status.name}"] = 1.0 if status.up else 0.0
            samples.append(
                Sample("convoload_component_up", 1.0 if status.up else 0.0, {"component": status.name})
            )
            if status.latency_s is not None:
                samples.append(
                    Sample(
                        "convoload_component_latency_seconds", status.latency_s, {"component": status.name}
                    )
                )
            level = logging.INFO if status.up else logging.ERROR
            logs.API.log(
                level,
                logs.logfmt(
                    check="health",
                    component=status.name,
                    up=status.up,
                    latency_ms=round(status.latency_s * 1000, 2) if status.latency_s is not None else None,
                    detail=status.detail,
                ),
            )
        self.store.add_samples(samples)
        self._evaluate_alerts()
        summary = HealthSummary({s.name: ComponentCheck(up=s.up, detail=s.detail) for s in results})
        return summary, None, None

    def stress(self) -> JobResult:
        plan = self.config.schedule.stress
        return self._stress(plan.users, plan.duration_s, plan.profile, plan.drain_s, "stress")

    def pipeline(self) -> JobResult:
        plan = self.config.schedule.pipeline
        return self._pipeline(plan.repeat)

    def daily(self) -> JobResult:
        """The comprehensive test (pipeline, then a longer stress test) and the daily report."""
        plan = self.config.schedule.daily
        parts: dict[str, PipelineSummary | StressSummary] = {}
        if self.watched is not None and self.watched.pipeline is not None:
            parts["pipeline"] = self._pipeline(plan.pipeline_repeat)[0]
        if not self._stop_runs.is_set():  # stopped during the pipeline: report what ran
            stress = self._stress(plan.stress_users, plan.stress_duration_s, "ramp", 60.0, "daily")
            parts["stress"] = stress[0]
        zone = ZoneInfo(self.config.timezone) if self.config.timezone else None
        now = datetime.fromtimestamp(self.clock(), tz=zone or UTC).astimezone(zone)
        path = write_daily_report(
            self.store,
            self.runs_dir / "daily",
            now=now,
            hours=24,
            status=self.status,
            components={n: s.up for n, s in self.components.items()},
            comprehensive=parts,
        )
        log.info(logs.logfmt(event="daily_report", path=path, html=path.with_suffix(".html")))
        return DailySummary(report=str(path), **parts), None, str(path.with_suffix(".html"))

    # -- job parts ---------------------------------------------------------------------------------

    def _stress(
        self, users: int, duration_s: float, profile: str, drain_s: float, kind: str
    ) -> tuple[StressSummary, str | None, str | None]:
        from convoload.load.engine import run_for
        from convoload.load.shapes import profile_shape
        from convoload.report.grading import assess_report
        from convoload.report.html import write_html_report

        assert self.watched is not None
        shape = profile_shape(profile)(users, duration_s)
        context = RunContext(
            self._agent_config(kind),
            run_id=f"{kind}-{new_run_id()}",
            plan=RunPlan(users=users, duration_s=duration_s, profile=profile),
        )
        self._watch_bus(context.bus, record=False)
        try:
            run_for(context, shape, drain_s=drain_s, stop=self._stop_runs)
            judgement = None
            if self._judge is not None:  # judged as a `run` with judge.enabled judges itself
                from convoload.judge.runner import judge_finished_run

                judgement = judge_finished_run(context.config, context.run_dir, emit=context.bus.emit)
            document = context.aggregate(judgement)
            run = RunReport.of(document)
            page = write_html_report(context.run_dir, document)
        finally:
            context.close()
        assessment = run.assessment or assess_report(run)
        judged: dict[str, float] = {}
        if judgement is not None and judgement.judged:
            judged["judge_pass_rate"] = judgement.pass_rate
        summary = StressSummary(
            users=users,
            duration_s=duration_s,
            profile=profile,
            conversations=run.summary.total_conversations,
            success_rate=run.summary.success_rate,
            p95_ms=run.latency.turn_ms.p95,
            grade=assessment.grade,
            health=assessment.health,
            recommendations=assessment.recommendations,
            complete=run.complete,
            **judged,
        )
        return summary, context.run_id, str(page)

    def _pipeline(self, repeat: int) -> tuple[PipelineSummary, str | None, str | None]:
        from convoload.pipeline.model import load_scenarios, resolve_suite
        from convoload.pipeline.runner import run_pipeline

        assert self.watched is not None and self.watched.pipeline is not None
        plan = self.config.schedule.pipeline
        suite = resolve_suite(plan.suite, source=self.config.source, field="schedule.pipeline.suite")
        if plan.scenarios:
            suite = suite.with_scenarios(load_scenarios(self.config.path(plan.scenarios), suite=suite))
        results = run_pipeline(
            suite,
            self.watched.pipeline,
            runs_dir=self.runs_dir / "pipeline",
            repeat=repeat,
            store_url=store_url(self.config),
            stop=self._stop_runs,
            judge_config=self.watched.agent if self.judging else None,
        )
        overall = results.overall
        summary = PipelineSummary(
            pipeline_id=results.pipeline_id,
            conversations=overall.conversations,
            success_rate=overall.success_rate,
            p95_ms=overall.latency_ms.p95,
            grade=overall.grade,
            health=overall.health,
            recommendations=overall.recommendations,
            scenarios={s.name: s.grade for s in results.scenarios},
        )
        assert results.folder is not None  # run_pipeline says where it wrote them
        return summary, results.pipeline_id, str(results.folder / RESULTS_FILE)

    def _agent_config(self, kind: str) -> Config:
        assert self.watched is not None
        agent = self.watched.agent
        runs = str(self.runs_dir / kind)
        return apply_overrides(agent, [Override(f"{self.config.source}: runs_dir", "run.runs_dir", runs)])

    def _probe_context(self) -> RunContext:
        """One run per day holds that day's synthetic conversations (journal, records, store)."""
        zone = ZoneInfo(self.config.timezone) if self.config.timezone else None
        day = datetime.fromtimestamp(self.clock(), tz=UTC).astimezone(zone).strftime("%Y%m%d")
        if self._probes is not None and self._probe_day == day:
            return self._probes
        self._close_probes()
        context = RunContext(self._agent_config("probes"), run_id=f"probes-{day}-{new_run_id()[9:]}")
        self._watch_bus(context.bus, record=True)
        self._probes, self._probe_day = context, day
        return context

    def _close_probes(self) -> None:
        if self._probes is None:
            return
        context, self._probes = self._probes, None
        try:
            document = context.aggregate()
            from convoload.report.html import write_html_report

            write_html_report(context.run_dir, document)
        except Exception:
            log.exception("could not finish the probe run %s", context.run_id)
        finally:
            context.close()

    def _watch_bus(self, bus: EventBus, *, record: bool) -> None:
        def started(_event: ConversationStarted) -> None:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

        def finished(event: ConversationFinished) -> None:
            self._in_flight -= 1
            rec = event.record
            if record:
                self.window.add(rec)
                if self._judge is not None and rec.outcome not in (
                    Outcome.INTERRUPTED,
                    Outcome.SIMULATOR_ERROR,
                ):
                    self._unjudged.append(rec)
            agents = [t.agent for t in rec.turns if t.agent]
            path = ">".join(a for i, a in enumerate(agents) if i == 0 or agents[i - 1] != a)
            logs.AGENTS.info(
                logs.logfmt(
                    run=rec.run_id,
                    session=rec.session_id,
                    persona=rec.persona,
                    outcome=rec.outcome.value if rec.outcome else None,
                    turns=len(rec.turns),
                    agents=path or None,
                    ms=round(rec.total_time_ms, 1),
                )
            )
            for turn in rec.turns:
                if turn.error is not None:
                    logs.API.error(
                        logs.logfmt(
                            call="turn",
                            run=rec.run_id,
                            session=rec.session_id,
                            turn=turn.iteration,
                            error=turn.error.kind.value,
                            status=turn.error.status_code,
                            message=turn.error.message[:200],
                        )
                    )

        bus.subscribe(ConversationStarted, started)
        bus.subscribe(ConversationFinished, finished)

    # -- alerts ------------------------------------------------------------------------------------

    def _evaluate_alerts(self) -> None:
        with self._alerts_lock:
            notifications = self.manager.evaluate(self.values)
            self._save_alerts()
        for notification in notifications:
            if self.on_alert is not None:
                try:
                    self.on_alert(notification)
                except Exception:  # a listener must not stop the notifications
                    log.exception("on_alert listener failed")
            self._deliveries.spawn(self._deliver, notification)

    def _save_alerts(self) -> None:
        alerts = self.manager.active()
        self.store.save_alerts([_alert_row(a) for a in alerts])
        self.store.set_state(ALERT_STATE_KEY, self.manager.snapshot())
        firing = [a for a in alerts if a.state == "firing" and not a.inhibited]
        status = "healthy"
        if any(a.severity == "critical" for a in firing):
            status = "critical"
        elif firing:
            status = "warning"
        self.status = status
        self.store.add_samples([Sample("convoload_health_status", STATUS_LEVEL[status])])

    def _deliver(self, notification: Notification) -> None:
        for result in self.dispatcher.send(notification):
            self.store.add_delivery(
                channel=result.channel,
                status=notification.status,
                group_key=notification.group_key,
                alerts=len(notification.alerts),
                ok=result.ok,
                attempts=result.attempts,
                error=result.error,
            )
            if not result.ok:
                log.error(
                    logs.logfmt(event="notification_failed", channel=result.channel, error=result.error)
                )

    # -- dashboard ---------------------------------------------------------------------------------

    def _start_dashboard(self) -> None:
        from convoload.envsecrets import secret_from_env
        from convoload.monitor.dashboard.launcher import DashboardServer
        from convoload.monitor.dashboard.settings import TOKEN_ENV, DashboardSettings

        settings = self.config.dashboard
        server = DashboardServer(
            DashboardSettings(
                store_url=store_url(self.config),
                runs_root=self.runs_dir,
                token=secret_from_env(TOKEN_ENV),  # required when the dashboard is bound beyond loopback
                refresh_s=settings.refresh_s,
                stale_after_s=max(300.0, 3 * self.config.schedule.collect.every_s),
            ),
            host=settings.host,
            port=settings.port,
        )
        self._resources.enter_context(server)
        self.dashboard_url = server.url


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "name": alert.name,
        "severity": alert.severity,
        "state": alert.state,
        "inhibited": alert.inhibited,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "value": alert.value,
        "threshold": alert.threshold,
        "active_since": _iso(alert.active_since),
        "fired_at": _iso(alert.fired_at) if alert.fired_at is not None else None,
        "resolved_at": _iso(alert.resolved_at) if alert.resolved_at is not None else None,
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
