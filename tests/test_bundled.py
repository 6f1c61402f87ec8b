"""Bundled systems: the registry a pack adds to, and the one way every command starts one.

`parrot-test` is a third-party system registered in-process as a pack would register it: a real chat
API on loopback that confirms the order after `confirm_after` messages, with its own persona folder,
goal and playbook. Each test observes what was started, with which options, and that it was stopped.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field

import convoload.api as convoload_api
from convoload.bundled import BUNDLED, BundledSystem, Launch, StartedSystem, chat_target, start_bundled
from convoload.cli import main
from convoload.config import Config, load_config
from convoload.errors import ConfigError
from convoload.model.report import RunReport
from convoload.personas import resolve_personas
from convoload.users.playbooks import Playbook
from tests.helpers import LocalApp, run_dirs, write

NAME = "parrot-test"


class ParrotPlaybook(Playbook):
    """A scripted customer who orders, then says yes until the order is confirmed."""

    def opening(self) -> str:
        return "I would like to order"

    def respond(self, reply: str) -> str | None:
        return None if "order confirmed" in reply else "yes, please"


class ParrotOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm_after: int = Field(default=2, ge=1, description="messages before the order is confirmed")


class Parrot(BundledSystem):
    options = ParrotOptions
    personas = ("polly",)
    goal = r"order confirmed"
    playbook = f"{__name__}:ParrotPlaybook"
    domains = ("parrots",)

    def __init__(self, persona_folder: Path) -> None:
        self.persona_folder = persona_folder  # type: ignore[misc]  # per instance: a tmp folder
        self.starts: list[tuple[ParrotOptions, int | None]] = []
        self.servers: list[LocalApp] = []

    def start(self, options: ParrotOptions, launch: Launch) -> StartedSystem:
        self.starts.append((options, launch.seed))
        said: Counter[str] = Counter()

        def answer(environ: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
            if environ["PATH_INFO"] == "/health":
                return 200, {"status": "ok"}
            session = json.loads(body)["session_id"]
            said[session] += 1
            done = said[session] >= options.confirm_after
            return 200, {"reply": "order confirmed" if done else "anything else?", "agent": "parrot"}

        server = LocalApp(answer)
        launch.resources.callback(server.stop)
        self.servers.append(server)
        return StartedSystem(
            name=NAME,
            url=server.url,
            target=chat_target(server.url + "/chat"),
            components={"agent": server.url},
            health={"agent": server.url + "/health"},
            chat_url=server.url + "/chat",
        )


class Observed(BundledSystem):
    """An installed system, started as usual, each start recorded."""

    def __init__(self, system: BundledSystem) -> None:
        self.system = system
        self.options = system.options  # type: ignore[misc]
        self.agent = system.agent  # type: ignore[misc]
        self.started: list[StartedSystem] = []

    def start(self, options: Any, launch: Launch) -> StartedSystem:
        started = self.system.start(options, launch)
        self.started.append(started)
        return started


@pytest.fixture
def parrot(tmp_path: Path) -> Iterator[Parrot]:
    folder = tmp_path / "parrot-personas"
    write(folder / "polly.yaml", "name: Polly\nlanguage: en\ngoal: order something\n")
    system = Parrot(folder)
    BUNDLED.register(NAME, system)
    try:
        yield system
    finally:
        BUNDLED.unregister(NAME)


@pytest.fixture
def observe() -> Iterator[Any]:
    """observe(name): the installed system `name`, replaced for the test by an Observed wrapper."""
    replaced: list[str] = []

    def wrap(name: str) -> Observed:
        observed = Observed(BUNDLED.get(name))
        BUNDLED.register(name, observed)
        replaced.append(name)
        return observed

    yield wrap
    for name in replaced:
        BUNDLED.unregister(name)  # the entry point is found again


def convoload(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    """`convoload ARGS` in this process (so that in-process registrations count): exit code, out, err."""
    monkeypatch.setattr(sys, "argv", ["convoload", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError:
        return True
    return False


# -- the registry --------------------------------------------------------------------------------


def test_an_unknown_agent_is_one_line_naming_the_field_and_the_installed_agents(
    tmp_path, monkeypatch, capsys
):
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {agent: nemo}}\n")
    code, _, err = convoload(monkeypatch, capsys, "run", "-f", str(config))
    assert code == 2
    # llmserver is installed too, but it is a service, not an agent one can talk to
    installed = "(installed: realestate, tickets)"
    assert err == f"error: {config}: target.demo.agent: unknown bundled agent 'nemo' {installed}\n"
    code, _, err = convoload(monkeypatch, capsys, "demo", "--agent", "nemo")
    assert (code, err) == (2, "error: --agent: 'nemo' is not one of all, realestate, tickets\n")


@pytest.mark.parametrize(
    ("demo", "field", "message"),
    [
        ("{agent: realestate, listings: 5}", "listings", "Input should be greater than or equal to 100"),
        ("{agent: realestate, brain: psychic}", "brain", "Input should be 'auto', 'rules' or 'llm'"),
        ("{agent: tickets, listings: 500}", "listings", "unknown field"),  # another system's option
        ("{reply_delay_s: -1}", "reply_delay_s", "Input should be greater than or equal to 0"),  # tickets
    ],
)
def test_a_bad_option_names_its_target_demo_field(tmp_path, monkeypatch, capsys, demo, field, message):
    config = write(tmp_path / "c.yaml", f"target: {{type: demo, demo: {demo}}}\n")
    code, _, err = convoload(monkeypatch, capsys, "run", "-f", str(config))
    assert (code, err) == (2, f"error: {config}: target.demo.{field}: {message}\n")


def test_options_of_every_existing_config_shape_still_load(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        "target:\n  type: demo\n"
        "  demo: {agent: tickets, reply_delay_s: 0.05, jitter_s: 0, split_messages: true}\n",
    )
    assert load_config(config).target.demo.options == {
        "reply_delay_s": 0.05,
        "jitter_s": 0,
        "split_messages": True,
    }
    realestate = Config.model_validate({"target": {"demo": {"agent": "realestate", "listings": 100}}})
    assert realestate.target.demo.agent == "realestate" and realestate.target.demo.options == {
        "listings": 100
    }
    assert Config().target.demo.agent == "tickets"  # the embedded default config: the ticket demo


def test_start_bundled_checks_options_of_a_named_system(parrot):
    with ExitStack() as resources, pytest.raises(ConfigError) as info:
        start_bundled(NAME, resources, options={"confirm_after": 0})
    assert info.value.field == "target.demo.confirm_after" and not parrot.starts
    with ExitStack() as resources, pytest.raises(ConfigError, match="unknown bundled system 'nemo'"):
        start_bundled("nemo", resources)


def test_a_registered_system_brings_its_personas_and_loses_them_when_it_goes(tmp_path, parrot):
    (polly,) = resolve_personas(["polly"])
    assert polly.name == "Polly" and polly.source == "builtin:polly.yaml"
    assert "kataryna" in {p.key for p in resolve_personas(["kataryna", "polly"])}  # the pack's too
    BUNDLED.unregister(NAME)
    with pytest.raises(ConfigError, match="'polly' is neither a built-in persona"):
        resolve_personas(["polly"], base_dir=tmp_path)


# -- every command starts through start_bundled ---------------------------------------------------


def test_a_third_party_system_runs_through_convoload_run(tmp_path, monkeypatch, capsys, parrot):
    config = write(
        tmp_path / "c.yaml",
        f"run: {{seed: 7}}\ntarget: {{type: demo, demo: {{agent: {NAME}, confirm_after: 3}}}}\n",
    )
    code, out, _ = convoload(
        monkeypatch, capsys, "run", "-f", str(config), "-n", "2", "--runs-dir", str(tmp_path / "runs")
    )
    assert code == 0, out
    assert parrot.starts == [(ParrotOptions(confirm_after=3), 7)]  # its options validated, the run's seed
    (server,) = parrot.servers
    assert f"bundled system {NAME}: agent {server.url}" in out
    (run_dir,) = run_dirs(tmp_path / "runs")
    document = json.loads((run_dir / "aggregate.json").read_text())
    assert document["run"]["target"] == {"type": "demo", "url": server.url}
    assert sorted(document["personas"]) == ["Polly"]  # its personas
    assert document["summary"]["successful_conversations"] == 2  # its goal, played by its playbook
    assert document["summary"]["total_turns"] == 6  # confirm_after reached the server
    assert refused(server.url + "/health")  # stopped with the run


def test_demo_starts_every_installed_agent_it_is_asked_for(tmp_path, monkeypatch, capsys, parrot):
    code, out, _ = convoload(
        monkeypatch, capsys, "demo", "--agent", NAME, "-q", "--runs-dir", str(tmp_path / "runs")
    )
    assert code == 0, out
    assert len(parrot.starts) == 1 and refused(parrot.servers[0].url + "/health")
    (run_dir,) = run_dirs(tmp_path / "runs")
    summary = json.loads((run_dir / "aggregate.json").read_text())["summary"]
    assert summary["total_conversations"] == 1  # one per persona of the system
    assert summary["successful_conversations"] == 1


def test_stress_starts_the_bundled_agent_once(tmp_path, monkeypatch, capsys, parrot):
    code, out, _ = convoload(
        monkeypatch,
        capsys,
        "stress",
        "--agent",
        NAME,
        "-u",
        "1",
        "-t",
        "1",
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert code == 0, out
    assert len(parrot.starts) == 1 and refused(parrot.servers[0].url + "/health")
    summary = json.loads(run_dirs(tmp_path / "runs")[0].joinpath("aggregate.json").read_text())["summary"]
    assert summary["total_conversations"] >= 1 and summary["successful_conversations"] >= 1


def test_the_monitor_starts_a_bundled_agent_of_its_agent_config_once(tmp_path, monkeypatch, capsys, parrot):
    write(tmp_path / "agent.yaml", f"target: {{type: demo, demo: {{agent: {NAME}}}}}\n")
    monitor = write(tmp_path / "monitor.yaml", "agent: agent.yaml\n")
    monkeypatch.chdir(tmp_path)  # its logs and runs go here
    code, out, _ = convoload(monkeypatch, capsys, "monitor", "-f", str(monitor), "--once", "health")
    assert code == 0, out
    assert json.loads(out) == {"agent": {"up": True, "detail": "ok"}}  # the health URLs it said it has
    assert len(parrot.starts) == 1 and refused(parrot.servers[0].url + "/health")


@pytest.mark.e2e
def test_the_pipeline_starts_its_system_through_the_registry(tmp_path, monkeypatch, capsys, observe):
    realestate = observe("realestate")
    scenarios = write(
        tmp_path / "s.yaml", "- {name: hello, conversations: 1, success: graceful, scripts: [['oi']]}\n"
    )
    code, out, _ = convoload(
        monkeypatch,
        capsys,
        "pipeline",
        "--scenarios",
        str(scenarios),
        "--listings",
        "100",
        "--runs-dir",
        str(tmp_path),
        "--json",
    )
    assert code == 0, out
    (started,) = realestate.started
    assert started.components["brain"] == "rules"  # the pipeline grades the offline brain
    assert json.loads(out)["system"] == {"assistant": started.chat_url, "catalog": started.catalog_url}
    assert refused(started.health_url)


# -- the local LLM provider ----------------------------------------------------------------------


@pytest.mark.e2e
def test_the_local_llm_provider_is_a_bundled_system_too(tmp_path, monkeypatch, capsys, observe):
    # In this process: the run starts the pack's `llmserver` through the registry for the local provider.
    llmserver = observe("llmserver")
    monkeypatch.chdir(tmp_path)  # the run's LLM cache goes here
    code, out, err = convoload(
        monkeypatch,
        capsys,
        "run",
        "-n",
        "1",
        "--user-mode",
        "llm",
        "--llm",
        "local/persona",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--seed",
        "3",
    )
    assert code in (0, 1), err + out  # 1: the goal was missed; the calls below are what this is about
    (started,) = llmserver.started
    report = RunReport.read(run_dirs(tmp_path / "runs")[0])
    assert report.run.llm == ["local/persona"]
    assert report.summary.llm.by_provider["local/persona"].calls >= 1
    assert report.summary.llm.errors == {}
    assert refused(started.health_url)  # stopped with the run


@pytest.mark.e2e
def test_the_local_llm_provider_is_reached_directly_under_an_ambient_proxy(tmp_path, monkeypatch, local_app):
    # A proxy configured for the internet (HTTP_PROXY, no NO_PROXY) cannot reach this machine's loopback:
    # the local provider's calls must not be sent to it, or each one fails or waits out its timeout.
    proxy = local_app(lambda environ, body: (502, {"error": "no route to the caller's loopback"}))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    config = Config.model_validate(
        {
            "user": {"type": "llm", "llm": "local/persona"},
            "llm": {"cache_path": None},
            "target": {"type": "demo", "demo": {"agent": "tickets", "reply_delay_s": 0.01, "jitter_s": 0}},
        }
    )
    report = convoload_api.run(config, conversations=2, concurrency=2, seed=3, runs_dir=tmp_path)
    assert proxy.requests == []
    assert report.summary.llm.errors == {}
    assert report.summary.llm.by_provider["local/persona"].calls >= 2
