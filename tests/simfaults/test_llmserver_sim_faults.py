"""The local provider's simulator-fault setting: which persona answers it changes, and its flags."""

from __future__ import annotations

import pytest

from convoload.identity import IdentityFactory
from convoload.model import SimulatorFault
from convoload.personas import builtin_personas
from convoload.users.llm import _guidelines
from convoload.users.simcheck import SimChecker
from convoload_demo.llmserver.__main__ import build_parser, main, settings_from_args
from convoload_demo.llmserver.faults import SimFaults
from convoload_demo.llmserver.settings import LLMServerSettings


def test_only_the_numbered_answers_are_faulty_and_reset_restarts_the_count() -> None:
    faults = SimFaults("role_leak", (1, 3))
    given = [faults.apply("oi", "pt-BR") for _ in range(4)]
    assert [fault for _, fault in given] == ["role_leak", None, "role_leak", None]
    assert given[1][0] == "oi" and given[0][0].startswith("Assistente:")
    faults.reset()
    assert faults.apply("oi", "pt-BR")[1] == "role_leak"
    assert SimFaults(None).apply("oi", "pt-BR") == ("oi", None)
    assert all(SimFaults("empty").apply("oi", "en")[1] == "empty" for _ in range(3))  # no list: every one


@pytest.mark.parametrize("kind", [f.value for f in SimulatorFault])
@pytest.mark.parametrize("persona", ["talliz", "marcus"])
def test_each_produced_fault_trips_exactly_its_own_check(kind: str, persona: str) -> None:
    p = builtin_personas()[persona]
    identity = IdentityFactory(3).identity(0)
    text, _ = SimFaults(kind).apply("oi", p.language)
    assert SimChecker(p, identity, _guidelines(p)).check(text.strip()).fault == SimulatorFault(kind)


def test_the_flags_reach_the_settings_and_back() -> None:
    args = build_parser().parse_args(["--sim-fault", "stop_mid", "--sim-fault-on", "1, 2"])
    settings = settings_from_args(args)
    assert (settings.sim_fault, settings.sim_fault_on) == ("stop_mid", (1, 2))
    assert settings.cli_args()[-4:] == ["--sim-fault", "stop_mid", "--sim-fault-on", "1,2"]
    assert "--sim-fault" not in LLMServerSettings().cli_args()


def test_a_bad_answer_list_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sim-fault", "empty", "--sim-fault-on", "first", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--sim-fault-on" in err and "'first'" in err
