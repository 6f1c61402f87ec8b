"""The pytest plugin (entry point `pytest11: convoload`): conversations with an agent as pytest tests.

    @pytest.mark.convoload(personas=["kataryna", "edman"])
    def test_customers_pay(converse):
        record = converse()                      # this test's persona, against the configured target
        assert record.goal_reached

- `converse(persona=None, ...)` holds one conversation and returns its `ConversationRecord`; the
  target is `convoload_config`'s: the marker's `config=`/`agent=`, else `--convoload-config` or the
  `convoload_config` ini option, else the bundled ticket agent. A bundled system is started once per
  session (`convoload_system`) and stopped at its end.
- `@pytest.mark.convoload(personas=[...])` makes one test per persona; `--convoload-repeat K` runs
  each convoload test K times in a row and passes it only if every repetition passes (pass^k);
  `--convoload-replay` answers simulated users' LLM calls from the record/replay cache.
- A failing test shows the transcripts of its conversations (of the repetition that failed), and
  every conversation's transcript is a `convoload.transcript` property of its test case in the
  JUnit XML (`--junit-xml`), whatever `junit_logging` says.

pytest loads this module in every session of every project that has convoload installed: it
imports only pytest and the standard library, and convoload's run machinery (Locust, gevent's
monkey-patching) is imported only when the collected tests use its fixtures.
"""

from __future__ import annotations

import argparse
import inspect
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from convoload.bundled import StartedSystem
    from convoload.config import Config
    from convoload.hooks.base import Hook
    from convoload.model import ConversationRecord

MARKER = "convoload"
_MARKER_KEYWORDS = ("personas", "agent", "options", "config")
# A test is a convoload test when it is marked or asks for one of these (directly or through its fixtures).
_FIXTURES = frozenset({"converse", "convoload_config", "convoload_system"})
TRANSCRIPT_PROPERTY = "convoload.transcript"
PASS_K_PROPERTY = "convoload.pass^k"


@dataclass(slots=True)
class _Conversation:
    repetition: int
    seed: int
    record: ConversationRecord


@dataclass(slots=True)
class _TestState:
    """What the plugin knows about one running test: its repetitions and its conversations."""

    repetitions: int = 1
    repetition: int = 1  # the one under way, from 1
    failed: list[int] = field(default_factory=list)  # repetitions that failed
    conversations: list[_Conversation] = field(default_factory=list)


_STATE = pytest.StashKey[_TestState]()


def _state(item: pytest.Item) -> _TestState:
    return item.stash.setdefault(_STATE, _TestState())


def _repetitions(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convoload", "convoload: conversations with an agent as tests")
    group.addoption(
        "--convoload-config",
        metavar="PATH",
        help="convoload config for the `converse` fixture (default: the convoload_config ini option, "
        "else the bundled ticket agent)",
    )
    group.addoption(
        "--convoload-repeat",
        metavar="K",
        type=_repetitions,
        default=1,
        help="pass^k: run each convoload test K times; it passes only if all K repetitions pass",
    )
    group.addoption(
        "--convoload-replay",
        action="store_true",
        default=False,
        help="answer simulated users' LLM calls from the record/replay cache (llm.replay), for "
        "deterministic CI",
    )
    group.addoption(
        "--convoload-runs-dir",
        metavar="DIR",
        help="where the conversations' run folders go (default: the config's run.runs_dir when it "
        "sets one, else a temporary directory)",
    )
    parser.addini("convoload_config", "convoload config for the `converse` fixture (relative to this file)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "convoload(personas=[...], agent=NAME, options={...}, config=PATH): a conversation test; "
        "personas makes one test per persona, agent/options/config choose what `converse` talks to",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    where = f"{metafunc.definition.nodeid}: @pytest.mark.convoload"
    unknown = sorted(set(marker.kwargs) - set(_MARKER_KEYWORDS))
    if marker.args or unknown:
        given = ", ".join(unknown) or "positional arguments"
        pytest.fail(f"{where}: unknown {given} (known: {', '.join(_MARKER_KEYWORDS)})", pytrace=False)
    personas = marker.kwargs.get("personas")
    if personas is None:
        return
    if isinstance(personas, str) or not personas or not all(isinstance(p, str) and p for p in personas):
        pytest.fail(f"{where}(personas=): a non-empty list of persona names, got {personas!r}", pytrace=False)
    if "convoload_persona" not in metafunc.fixturenames:
        pytest.fail(
            f"{where}(personas=): the test uses neither `converse` nor `convoload_persona`", pytrace=False
        )
    metafunc.parametrize("convoload_persona", list(personas), ids=list(personas))


def _is_convoload_test(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return item.get_closest_marker(MARKER) is not None or not _FIXTURES.isdisjoint(names)


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(_is_convoload_test(item) for item in session.items):
        return
    import sys

    from gevent import monkey

    if "ssl" in sys.modules and not monkey.is_module_patched("ssl"):
        # Patched this late, ssl breaks (a RecursionError once urllib3 has been imported).
        raise pytest.UsageError(
            "convoload: gevent must patch ssl before pytest's plugins import it: add "
            "`-p convoload.testing.patched` to addopts in your pytest configuration "
            "(or to the command line)"
        )
    # Conversations run on gevent: patch now, before any test starts threads or sockets, rather
    # than in the middle of the session at the first conversation (importing the API patches).
    import convoload.api  # noqa: F401


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """pass^k: the test body runs `--convoload-repeat` times, every repetition to the end; the test
    fails with the first failure, noting which repetitions failed."""
    repetitions = pyfuncitem.config.getoption("convoload_repeat")
    function = pyfuncitem.obj
    if repetitions <= 1 or not _is_convoload_test(pyfuncitem) or inspect.iscoroutinefunction(function):
        return None  # pytest calls it once, as usual
    parameters = inspect.signature(function).parameters.values()
    # As pytest passes them: the fixtures the function names without a default.
    arguments = {
        p.name: pyfuncitem.funcargs[p.name]
        for p in parameters
        if p.default is inspect.Parameter.empty and p.name in pyfuncitem.funcargs
    }
    state = _state(pyfuncitem)
    state.repetitions = repetitions
    first: BaseException | None = None
    for repetition in range(1, repetitions + 1):
        state.repetition = repetition
        try:
            function(**arguments)
        except (Exception, pytest.fail.Exception) as exc:
            state.failed.append(repetition)
            first = first or exc
    passed = repetitions - len(state.failed)
    pyfuncitem.user_properties.append((PASS_K_PROPERTY, f"{passed}/{repetitions}"))
    if first is not None:
        failed = ", ".join(map(str, state.failed))
        first.add_note(
            f"pass^{repetitions} failed: {passed} of {repetitions} repetitions passed; "
            f"failed: {failed} (shown: repetition {state.failed[0]})"
        )
        raise first
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    state = item.stash.get(_STATE, None)
    if report.when != "call" or not report.failed or state is None or not state.conversations:
        return report
    # The failing repetition's conversations, under the failure (so also in the JUnit <failure>).
    shown = state.failed[0] if state.failed else state.repetition
    conversations = [c for c in state.conversations if c.repetition == shown]
    from convoload.testing import ConversationFailed, transcript

    if call.excinfo is not None and isinstance(call.excinfo.value, ConversationFailed):
        said = call.excinfo.value.record  # its message has the transcript already
        conversations = [c for c in conversations if c.record is not said]
    longrepr = report.longrepr
    if hasattr(longrepr, "addsection"):
        for number, conversation in enumerate(conversations, 1):
            title = f"convoload conversation {number} of {len(conversations)}"
            if state.repetitions > 1:
                title += f", repetition {shown} of {state.repetitions}"
            title += f", seed {conversation.seed}"
            longrepr.addsection(title, transcript(conversation.record))
    return report


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def convoload_system() -> Iterator[Callable[..., StartedSystem]]:
    """`convoload_system("tickets", reply_delay_s=0.05)`: that bundled system with those options,
    started at its first use in the session and stopped at the session's end."""
    started: dict[str, StartedSystem] = {}
    with ExitStack() as resources:

        def start(name: str = "tickets", *, seed: int | None = None, signature: Any = None, **options: Any):
            key = json.dumps(
                [name, options, seed, signature.model_dump(mode="json") if signature else None],
                sort_keys=True,
                default=str,
            )
            if key not in started:
                from convoload.bundled import start_bundled
                from convoload.errors import ConvoloadError

                problem = None
                try:
                    started[key] = start_bundled(
                        name,
                        resources,
                        options=options,
                        seed=seed,
                        signature=signature,
                        source="convoload_system",
                    )
                except ConvoloadError as exc:
                    problem = str(exc)
                if problem is not None:
                    pytest.fail(problem, pytrace=False)
            return started[key]

        yield start


@pytest.fixture(scope="session")
def _convoload_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convoload-runs")


@pytest.fixture
def convoload_persona() -> str | None:
    """The persona `converse()` plays when given none: the marker's `personas` parametrise it."""
    return None


@pytest.fixture
def convoload_config(request: pytest.FixtureRequest, _convoload_runs_dir: Path) -> Config:
    """The config this test's conversations use (see the module's docstring for where it comes from)."""
    from convoload.config import Override, apply_llm_flags, apply_overrides, load_config
    from convoload.errors import ConvoloadError

    options = request.config.option
    marker = request.node.get_closest_marker(MARKER)
    given = dict(marker.kwargs) if marker is not None else {}
    path: Path | None = None
    if given.get("config"):
        path = Path(request.node.path).parent / given["config"]
    elif options.convoload_config:
        path = Path(request.config.invocation_params.dir) / options.convoload_config
    elif request.config.getini("convoload_config"):
        base = request.config.inipath.parent if request.config.inipath else request.config.rootpath
        path = base / request.config.getini("convoload_config")
    problem = None
    try:
        config = load_config(path)
        if "agent" in given or "options" in given:
            config = _on_bundled_agent(config, given, "@pytest.mark.convoload")
        runs_dir = options.convoload_runs_dir
        if runs_dir is None and "runs_dir" not in config.run.model_fields_set:
            runs_dir = str(_convoload_runs_dir)  # never the project's ./runs
        config = apply_overrides(config, [Override("--convoload-runs-dir", "run.runs_dir", runs_dir)])
        if options.convoload_replay:
            config = apply_llm_flags(config, None, None, True)
    except ConvoloadError as exc:
        problem = str(exc)
    if problem is not None:  # one line naming the file and field, as the CLI says it
        pytest.fail(problem, pytrace=False)
    return config


def _on_bundled_agent(config: Config, given: dict[str, Any], source: str) -> Config:
    """The config aimed at the marker's bundled `agent` with its `options`, validated like a file's
    `target.demo` (an error names `target.demo.<option>`)."""
    from pydantic import ValidationError

    from convoload.config import Config
    from convoload.errors import pydantic_error_to_config_error

    demo = {"agent": given.get("agent", config.target.demo.agent), **dict(given.get("options") or {})}
    data = config.model_dump()
    data["target"] = {**data["target"], "type": "demo", "demo": demo}
    data.update(source=config.source, base_dir=config.base_dir)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(source, exc) from None


@pytest.fixture
def converse(
    request: pytest.FixtureRequest,
    convoload_config: Config,
    convoload_persona: str | None,
    convoload_system: Callable[..., StartedSystem],
) -> Callable[..., ConversationRecord]:
    """`converse(persona=None, *, seed=None, max_iterations=None, user=None, hooks=(), on_event=None)`:
    one conversation with the configured target; returns its `ConversationRecord`.

    The persona is the one given, else the test's (`@pytest.mark.convoload(personas=...)`), else the
    config's first. Unless given or set in the config, the seed is a function of the test, its
    repetition and how many conversations it held before, so a rerun replays the same customers.
    """
    item = request.node
    state = _state(item)

    def converse(
        persona: str | None = None,
        *,
        seed: int | None = None,
        max_iterations: int | None = None,
        user: Callable[..., Any] | None = None,
        hooks: Sequence[Hook] = (),
        on_event: Callable[[Any], None] | None = None,
    ) -> ConversationRecord:
        from convoload import api
        from convoload.errors import ConvoloadError

        config = convoload_config
        if seed is None:
            seed = config.run.seed
        if seed is None:
            held = sum(1 for c in state.conversations if c.repetition == state.repetition)
            seed = zlib.crc32(f"{item.nodeid}#{state.repetition}#{held}".encode())
        target = None
        try:
            resolved = api.load(config, seed=seed, max_iterations=max_iterations)
            if config.target.type == "demo":
                # The session's system, not one per conversation; the config stays a `demo` one, so
                # its goal, playbook and domain hooks are the system's, as in `convoload demo`.
                from convoload.config import aimed_at
                from convoload.load.wiring import build_target

                demo = config.target.demo
                system = convoload_system(
                    demo.agent, signature=config.target.receiver.signature, **demo.options
                )
                target = build_target(aimed_at(config, system.target))
            record = api.converse(
                resolved,
                persona=persona or convoload_persona,
                target=target,
                hooks=hooks,
                user=user,
                on_event=on_event,
            )
        except ConvoloadError as exc:
            problem = str(exc)
        else:
            problem = None
        finally:
            if target is not None:
                target.close()  # the run closes it too; closing again is harmless
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        state.conversations.append(_Conversation(state.repetition, seed, record))
        from convoload.testing import transcript

        item.user_properties.append((TRANSCRIPT_PROPERTY, _junit_text(state, seed, transcript(record))))
        return record

    return converse


def _junit_text(state: _TestState, seed: int, text: str) -> str:
    head = f"seed {seed}" + (
        f", repetition {state.repetition} of {state.repetitions}" if state.repetitions > 1 else ""
    )
    return f"{head}\n{text}"
