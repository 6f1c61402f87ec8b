"""Which playbook a scripted user plays: the persona's own (a registered name or module:Class), else the
bundled system's; none, or an unknown one, is a one-line error naming the persona's file and field."""

import subprocess
import sys
from pathlib import Path

import pytest

from convoload.config import Config
from convoload.errors import ConfigError
from convoload.identity import IdentityFactory
from convoload.personas import Persona, load_persona_file
from convoload.users.factory import check_personas, persona_errors, playable_personas
from convoload.users.playbooks import PLAYBOOKS, Playbook, playbook_for
from convoload.users.scripted import ScriptedUser
from convoload_demo.realestate.playbook import RealEstatePlaybook
from convoload_demo.tickets.playbook import TicketsPlaybook
from tests.helpers import invoke, write

REPO = Path(__file__).resolve().parents[1]
INSTALLED = "(installed: realestate, tickets)"


class EchoPlaybook(Playbook):
    """A third party's playbook, named as module:Class."""

    def opening(self) -> str:
        return f"hello, I am {self.persona.facts['nickname']}"

    def respond(self, reply: str) -> str | None:
        if "bye" in reply:
            self.stop("said_goodbye")
            return None
        return f"you said: {reply}"


class Unfinished(Playbook):
    def opening(self) -> str:
        return "hi"


def test_the_demo_pack_registers_its_playbooks():
    assert {"tickets", "realestate"} <= set(PLAYBOOKS.names())
    assert PLAYBOOKS.get("tickets") is TicketsPlaybook and PLAYBOOKS.get("realestate") is RealEstatePlaybook
    assert (TicketsPlaybook.domain, RealEstatePlaybook.domain) == ("tickets", "realestate")


def test_the_personas_own_playbook_wins_over_the_default():
    assert playbook_for(Persona(name="A", playbook="realestate"), "tickets") is RealEstatePlaybook
    assert playbook_for(Persona(name="A"), "tickets") is TicketsPlaybook
    assert (
        playbook_for(Persona(name="A", playbook="tests.test_playbook_registry:EchoPlaybook")) is EchoPlaybook
    )
    assert playbook_for(Persona(name="A"), EchoPlaybook) is EchoPlaybook


@pytest.mark.parametrize(
    ("playbook", "message"),
    [
        (None, f"scripted users need a playbook {INSTALLED}"),
        ("nope", f"unknown playbook 'nope' {INSTALLED}"),
        ("tests.test_playbook_registry:Missing", "has no attribute 'Missing'"),
        ("no_such_module_xyz:Playbook", "cannot import module 'no_such_module_xyz'"),
        ("tests.test_playbook_registry:Persona", "is not a Playbook subclass"),
        ("tests.test_playbook_registry:Unfinished", "leaves opening() or respond() unimplemented"),
    ],
)
def test_no_playable_playbook_is_a_config_error_on_the_personas_field(playbook, message):
    persona = Persona(name="Ann", playbook=playbook, source="personas/ann.yaml")
    with pytest.raises(ConfigError) as info:
        ScriptedUser(persona, IdentityFactory(1).identity(0))
    assert (info.value.source, info.value.field) == ("personas/ann.yaml", "playbook")
    assert message in info.value.message and "\n" not in str(info.value)


def test_llm_users_need_no_playbook_but_a_named_one_must_exist():
    personas = [Persona(name="Free"), Persona(name="Odd", playbook="nope", source="odd.yaml")]
    assert [str(e) for e in persona_errors(personas)] == [
        f"odd.yaml: playbook: unknown playbook 'nope' {INSTALLED}"
    ]
    assert check_personas(personas[:1]) == []
    scripted = persona_errors(personas, scripted=True)
    assert [e.source for e in scripted] == ["Free", "odd.yaml"]
    assert persona_errors(personas[:1], default_playbook="tickets", scripted=True) == []


def test_a_bundled_target_gives_its_playbook_to_personas_without_one():
    personas = [Persona(name="Free"), Persona(name="Renata", playbook="realestate")]
    tickets = Config.model_validate({"target": {"type": "demo", "demo": {"agent": "tickets"}}})
    assert [p.playbook for p in playable_personas(personas, tickets)] == ["tickets", "realestate"]
    realestate = Config.model_validate({"target": {"type": "demo", "demo": {"agent": "realestate"}}})
    assert [p.playbook for p in playable_personas(personas, realestate)] == ["realestate", "realestate"]
    python = Config.model_validate({"target": {"type": "python", "function": "x:y"}})
    with pytest.raises(ConfigError) as info:
        playable_personas(personas, python)
    assert info.value.source == "Free" and info.value.field == "playbook"
    llm = Config.model_validate({"target": {"type": "python", "function": "x:y"}, "user": {"type": "llm"}})
    assert [p.playbook for p in playable_personas(personas, llm)] == [None, "realestate"]


def test_personas_handed_to_a_run_are_checked_too(tmp_path):
    from convoload.load.context import RunContext

    target = {"type": "python", "function": "tests.test_playbook_registry:echo_agent"}
    config = Config.model_validate({"run": {"runs_dir": str(tmp_path / "runs")}, "target": target})
    with pytest.raises(ConfigError) as info:
        RunContext(config, personas=[Persona(name="Free", source="given")])
    assert (info.value.source, info.value.field) == ("given", "playbook")
    assert not (tmp_path / "runs").exists(), "nothing was started or written"


def test_a_text_persona_may_name_its_playbook(tmp_path):
    named = load_persona_file(
        write(tmp_path / "p.txt", "Persona 1\nQuer 2 adultos para 11/10.\nPlaybook: realestate\n")
    )
    assert named.playbook == "realestate"
    assert (
        load_persona_file(write(tmp_path / "q.txt", "Persona 2\nQuer 2 adultos para 11/10.\n")).playbook
        is None
    )


def echo_agent(text, session, iteration):
    return "bye!" if iteration >= 3 else f"tell me more ({iteration})"


def convoload(*args, cwd):
    """`python -m convoload ARGS` as a real process: one that has not imported this module, so the run
    itself imports the target and the module:Class playbook by their names."""
    return subprocess.run(
        [sys.executable, "-m", "convoload", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )


def run_config(tmp_path, persona_yaml):
    write(tmp_path / "personas" / "ann.yaml", persona_yaml)
    return write(
        tmp_path / "run.yaml",
        f"""
run: {{conversations: 1, concurrency: 1, seed: 1, runs_dir: {tmp_path / "runs"}}}
personas: [./personas/ann.yaml]
target: {{type: python, function: "tests.test_playbook_registry:echo_agent"}}
""",
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("playbook_line", "message"),
    [
        ("", f"scripted users need a playbook {INSTALLED}"),
        ("playbook: nope", f"unknown playbook 'nope' {INSTALLED}"),
    ],
)
def test_a_run_without_a_playable_playbook_exits_2_with_one_line(tmp_path, playbook_line, message):
    config = run_config(tmp_path, f"name: Ann\nfacts: {{nickname: ann}}\n{playbook_line}\n")
    result = invoke("run", "-f", str(config), cwd=tmp_path, env={"CONVOLOAD_DB_URL": None})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'personas' / 'ann.yaml'}: playbook: {message}"
    ]
    assert not (tmp_path / "runs").exists() or not any(p.is_dir() for p in (tmp_path / "runs").iterdir())


@pytest.mark.e2e
def test_a_module_class_playbook_plays_a_real_run(tmp_path):
    config = run_config(
        tmp_path, "name: Ann\nplaybook: tests.test_playbook_registry:EchoPlaybook\nfacts: {nickname: annie}\n"
    )
    result = convoload("run", "-f", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    from convoload.store.journal import read_journal

    (record,) = read_journal(run_dir / "journal.jsonl")
    assert [t.user_text for t in record.turns] == [
        "hello, I am annie",
        "you said: tell me more (1)",
        "you said: tell me more (2)",
    ]
    assert record.stop_reason == "said_goodbye"
