"""What the load benchmarks share: the loopback target process, CPU and memory readings, tables.

Imported by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path)
after they have monkey-patched with gevent.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust.runners import CPU_MONITOR_INTERVAL, CPU_WARNING_THRESHOLD

from benchtable import ms, print_table  # noqa: F401  (re-exported for the benchmark scripts)
from convoload.config import Config
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.model import distribution

HERE = Path(__file__).resolve().parent


# -- the loopback target -----------------------------------------------------------------------------
class LoopbackTarget:
    """benchmarks/loopback_target.py in its own process, so it does not share our event loop."""

    def __init__(self, delay: float, turns: int, *, callback_pool: int = 0) -> None:
        args = ["--delay", str(delay), "--turns", str(turns), "--callback-pool", str(callback_pool)]
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "loopback_target.py"), *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("READY "):
            self.process.kill()
            raise SystemExit(f"loopback target did not start: {line!r}")
        self.url = line.split()[1]
        self.pid = self.process.pid

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def stats(self) -> dict[str, Any]:
        """The target's own counters (callbacks sent and failed), read over HTTP."""
        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()

    def __enter__(self) -> LoopbackTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


ALL_HOOKS = [
    "agent_transitions",
    "slow_responses",
    "error_responses",
    "ollama_fallbacks",
    "price_discussions",
    "scheduling_requests",
    "property_inquiries",
    "short_responses",
    "fast_responses",
    "engaged_users",
]


def bench_config(
    kind: str,
    url: str,
    turns: int,
    runs_dir: str,
    timeout_s: float = 60,
    *,
    store: bool = True,
    hooks: bool = True,
) -> Config:
    """A run of scripted `kataryna` conversations against the loopback target's /chat or /webhook.

    `store`/`hooks` False turn off the results database / the built-in hooks, to attribute costs.
    """
    off: dict[str, Any] = {}
    if not store:
        off["store"] = {"enabled": False}
    if not hooks:
        off["hooks"] = {"disabled": ALL_HOOKS}
    body = {"session_id": "{session_id}", "text": "{text}", "iteration": "{iteration}"}
    if kind == "webhook":
        body["webhook"] = "{webhook_url}"
    return Config.model_validate(
        {
            "run": {"seed": 1, "runs_dir": runs_dir, "max_iterations": turns},
            "personas": ["kataryna"],
            "target": {
                "type": kind,
                "url": f"{url}/{'webhook' if kind == 'webhook' else 'chat'}",
                "body": body,
                "reply_path": "reply" if kind == "http" else "text",
                "timeout_s": timeout_s,
            },
            **off,
        }
    )


# -- CPU, memory, machine load -----------------------------------------------------------------------
def process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by another process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_kb() -> int:
    """This process's resident set now, in KiB."""
    return psutil.Process().memory_info().rss // 1024


def machine_load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def raise_fd_limit(needed: int) -> int:
    """Lift the soft open-files limit towards the hard one; returns the limit now in force.

    Each conversation holds sockets on both sides (our client connection and, for webhooks, the
    callback connection the target opens to our receiver), and the target process inherits the
    limit: 2,000 conversations need about 4,000 descriptors per process, over the common default 1024.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


@dataclass
class Window:
    """CPU of this process, of its event loop (the main thread) and of the target over a wall-clock window."""

    wall_s: float
    cpu_pct: float
    target_cpu_pct: float
    loop_cpu_pct: float = 0.0


class WindowClock:
    def __init__(self, target_pid: int) -> None:
        self._pid = target_pid
        self._wall = time.perf_counter()
        self._cpu = self_cpu_s()
        self._loop = time.thread_time()  # read in the main thread, where every greenlet runs
        self._target = process_cpu_s(target_pid)

    def read(self) -> Window:
        wall = time.perf_counter() - self._wall
        return Window(
            wall_s=wall,
            cpu_pct=100 * (self_cpu_s() - self._cpu) / wall,
            target_cpu_pct=100 * (process_cpu_s(self._pid) - self._target) / wall,
            loop_cpu_pct=100 * (time.thread_time() - self._loop) / wall,
        )


class CpuWatch:
    """Locust's CPU-usage warning, observed from outside the runner, plus the CPU and RSS peaks.

    The runner (inside `run_load`) samples psutil's cpu_percent every CPU_MONITOR_INTERVAL seconds
    and logs its warning above CPU_WARNING_THRESHOLD %; we catch that log line, and sample the same
    way ourselves so the figure is known even when no warning fired. The first sample of either
    is only a baseline: a run must last over two intervals to be judged at all.
    """

    def __init__(self, rss_interval_s: float = 0.25) -> None:
        self.warning_logged = False
        self.cpu_samples: list[float] = []
        self.peak_rss_kb = rss_kb()
        self._rss_interval_s = rss_interval_s
        self._handler = _Catch(lambda: setattr(self, "warning_logged", True))
        self._greenlets: list[gevent.Greenlet] = []

    def start(self) -> CpuWatch:
        logging.getLogger().addHandler(self._handler)
        self._greenlets = [gevent.spawn(self._cpu_loop), gevent.spawn(self._rss_loop)]
        return self

    def stop(self) -> None:
        logging.getLogger().removeHandler(self._handler)
        gevent.killall(self._greenlets)
        self.peak_rss_kb = max(self.peak_rss_kb, rss_kb())

    @property
    def over_threshold(self) -> bool:
        """Our own samples crossed Locust's threshold (Locust warns on the same condition)."""
        return any(s > CPU_WARNING_THRESHOLD for s in self.cpu_samples)

    def _cpu_loop(self) -> None:
        process = psutil.Process()
        process.cpu_percent()
        while True:
            gevent.sleep(CPU_MONITOR_INTERVAL)
            self.cpu_samples.append(process.cpu_percent())

    def _rss_loop(self) -> None:
        while True:
            self.peak_rss_kb = max(self.peak_rss_kb, rss_kb())
            gevent.sleep(self._rss_interval_s)


class _Catch(logging.Handler):
    def __init__(self, found: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._found = found

    def emit(self, record: logging.LogRecord) -> None:
        if "CPU usage above" in record.getMessage():
            self._found()


class HubWatch:
    """Event-loop lag (a 5 ms tick's lateness) and garbage-collector pauses: where latency goes when the
    CPU is not saturated. Each is kept with the time it happened, so a summary can leave out what came
    before the first turn or after the last (set-up, the collector's one full pass at the start)."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.lags: list[tuple[float, float]] = []  # (when, ms late)
        self.gcs: list[tuple[float, int, float]] = []  # (when, generation, ms)
        self._gc_started = 0.0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> HubWatch:
        gc.callbacks.append(self._on_gc)
        self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._greenlet is not None:
            self._greenlet.kill()

    def _loop(self) -> None:
        while True:
            started = time.perf_counter()
            gevent.sleep(self.tick_s)
            self.lags.append((started, (time.perf_counter() - started - self.tick_s) * 1000))

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = (time.perf_counter() - self._gc_started) * 1000
            self.gcs.append((self._gc_started, info["generation"], pause))

    def summary(self, window: tuple[float, float] | None = None) -> dict[str, Any]:
        """Lag and collections, within `window` (perf_counter from, to) when given."""
        start, end = window or (float("-inf"), float("inf"))
        gc_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        for when, generation, pause in self.gcs:
            if start <= when <= end:
                gc_ms[generation].append(pause)
        return {
            # A tick counts when it both started and ended within the window.
            "lag_ms": distribution(
                lag for when, lag in self.lags if start <= when and when + self.tick_s + lag / 1000 <= end
            ),
            "gc": {
                g: {"count": len(v), "total_ms": sum(v), "max_ms": max(v, default=0.0)}
                for g, v in gc_ms.items()
            },
        }


def quiet_locust_spawn_notice() -> None:
    """Locust warns about spawn rates over 100; starting every user at once is what we mean here."""

    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "spawn rate is very high" not in record.getMessage()

    logging.getLogger("locust.runners").addFilter(_Drop())


# -- per-turn figures ------------------------------------------------------------------------------------
class Recorder:
    """Wraps a target to collect, per turn, overhead (latency minus the target's own hold time) and the
    receiver's wake-up delay."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.wake_ms: list[float] = []
        self.overhead_ms: list[float] = []
        self.later_ms: list[float] = []
        self.ack_ms: list[float] = []
        self.by_turn: list[tuple[float, int, float, float | None]] = []  # (time, iteration, overhead, wake)
        self.first_sent: float | None = None  # perf_counter: from the first turn sent to the last reply
        self.last_replied = 0.0

    @property
    def window(self) -> tuple[float, float] | None:
        return None if self.first_sent is None else (self.first_sent, self.last_replied)

    def send(self, session: Any, text: str, iteration: int) -> Any:
        if self.first_sent is None:
            self.first_sent = time.perf_counter()
        reply = self._target.send(session, text, iteration)
        self.last_replied = time.perf_counter()
        if reply.wake_ms is not None:
            self.wake_ms.append(reply.wake_ms)
        if reply.ack_ms is not None:
            self.ack_ms.append(reply.ack_ms)
        held = reply.raw[-1]["held_ms"] if isinstance(reply.raw, list) else reply.raw["held_ms"]
        self.overhead_ms.append(reply.latency_ms - held)
        self.by_turn.append((time.perf_counter(), iteration, reply.latency_ms - held, reply.wake_ms))
        if iteration > 1:  # later turns reuse connections; first turns also pay for TCP connects
            self.later_ms.append(reply.latency_ms - held)
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@dataclass
class ConversationRun:
    """What one run of N concurrent conversations measured."""

    kind: str
    conversations: int
    summary: dict[str, Any]  # the aggregate's summary
    target_stats: dict[str, int]  # connector counters (the receiver's callbacks by verdict)
    overhead: dict[str, Any]  # distributions, ms
    later: dict[str, Any]
    detection: dict[str, Any]
    window: Window
    turns: int
    baseline_rss_kb: int
    peak_rss_kb: int
    cpu: CpuWatch
    hub: HubWatch
    recorder: Recorder

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.window.wall_s


def run_conversations(
    kind: str,
    target: LoopbackTarget,
    conversations: int,
    turns: int,
    delay: float,
    runs_dir: str,
    **variant: bool,
) -> ConversationRun:
    """N concurrent scripted conversations of `turns` turns through the real engine, all at once.

    `variant`: bench_config's store/hooks switches."""
    config = bench_config(kind, target.url, turns, runs_dir, timeout_s=max(60, 6 * delay), **variant)
    context = RunContext(config)
    recorder = Recorder(context.target)
    context.target = recorder
    baseline = rss_kb()
    watch = CpuWatch().start()
    hub = HubWatch().start()
    clock = WindowClock(target.pid)
    try:
        # Start conversations spread over one reply delay, so turns arrive evenly rather than in lockstep.
        run_load(context, conversations, conversations, ramp_up_s=delay)
        window = clock.read()
    finally:
        hub.stop()
        watch.stop()
        context.close()
    return ConversationRun(
        kind=kind,
        conversations=conversations,
        summary=context.aggregator.document(conversations=False)["summary"],
        target_stats=context.target.stats(),
        overhead=distribution(recorder.overhead_ms),
        later=distribution(recorder.later_ms),
        detection=distribution(recorder.wake_ms),
        window=window,
        turns=len(recorder.overhead_ms),
        baseline_rss_kb=baseline,
        peak_rss_kb=watch.peak_rss_kb,
        cpu=watch,
        hub=hub,
        recorder=recorder,
    )


# -- the floor: the same round trips without convoload -----------------------------------------------
def run_floor(
    kind: str, target: LoopbackTarget, conversations: int, turns: int, delay: float
) -> dict[str, Any]:
    """The overhead of the same turns with no convoload code on our side: what this machine, loopback
    and the target cost anyway.

    N plain greenlets, started over one delay like the real runs, each with its own geventhttpclient
    connection (the client our connectors use) and, for webhooks, a receiver that only parses the
    callback and wakes its greenlet (the lean pywsgi server, the cheapest we have). No Locust, users,
    events, hooks, records or store. The collector is paced as in a run (LoadHeap), so the floor does not
    pay for pauses a run would not have. Returns the overhead distribution, ms.
    """
    from gevent.event import AsyncResult
    from geventhttpclient import HTTPClient
    from geventhttpclient.url import URL

    from convoload.load.heap import LoadHeap
    from convoload.targets.lean_wsgi import LeanWSGIServer

    waiting: dict[str, AsyncResult] = {}

    def receive(environ: dict, start_response: Callable) -> list[bytes]:
        document = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        waiting.pop(environ["PATH_INFO"], AsyncResult()).set((time.perf_counter(), document))
        start_response("202 Accepted", [("Content-Length", "0")])
        return [b""]

    receiver = LeanWSGIServer(("127.0.0.1", 0), receive, log=None, backlog=4096)
    receiver.start()
    overhead_ms: list[float] = []

    def converse(k: int) -> None:
        gevent.sleep(delay * k / conversations)
        client = HTTPClient.from_url(URL(target.url), concurrency=1, network_timeout=max(60, 6 * delay))
        try:
            for iteration in range(1, turns + 1):
                request: dict[str, Any] = {"session_id": f"s{k}", "text": "oi", "iteration": iteration}
                path = f"/cb/s{k}/{iteration}"
                if kind == "webhook":
                    request["webhook"] = f"http://127.0.0.1:{receiver.server_port}{path}"
                    waiting[path] = reply = AsyncResult()
                started = time.perf_counter()
                response = client.request(
                    "POST", f"/{kind if kind == 'webhook' else 'chat'}", body=json.dumps(request).encode()
                )
                content = response.read()
                if kind == "webhook":
                    received, document = reply.get()
                else:
                    received, document = time.perf_counter(), json.loads(content)
                overhead_ms.append((received - started) * 1000 - document["held_ms"])
        finally:
            client.close()

    try:
        with LoadHeap():
            gevent.joinall([gevent.spawn(converse, k) for k in range(conversations)], raise_error=True)
    finally:
        receiver.stop(timeout=1)
    return distribution(overhead_ms)
