"""convoload's pytest plugin, used as users use it: test files run in pytest sessions of their own
(pytester), against the bundled ticket agent. One test per persona, pass^k with a failing repetition,
failures that show the transcript, transcripts in the JUnit XML, and the examples/pytest suite."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from convoload.testing.plugin import PASS_K_PROPERTY, TRANSCRIPT_PROPERTY
from tests.helpers import REPO, docs_blocks

# The inner sessions leave out the plugins our own suite leaves out (pyproject's addopts).
QUIET = ("-p", "no:cacheprovider", "-p", "no:anyio", "-p", "no:schemathesis")
# The bundled ticket agent, answering fast: the inner sessions' config, named by their ini file.
FAST_TICKETS = "target:\n  type: demo\n  demo: {agent: tickets, reply_delay_s: 0.01, jitter_s: 0}\n"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", convoload=FAST_TICKETS)
    pytester.makeini("[pytest]\nconvoload_config = convoload.yaml\n")
    return pytester


def properties(junit: Path, name: str) -> dict[str, list[str]]:
    """Test case name -> the values of its properties called `name`."""
    found: dict[str, list[str]] = {}
    for case in ET.parse(junit).iter("testcase"):
        found[case.get("name", "")] = [
            p.get("value", "") for p in case.iter("property") if p.get("name") == name
        ]
    return found


@pytest.mark.e2e
def test_the_marker_makes_one_test_per_persona(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest

        @pytest.mark.convoload(personas=["kataryna", "edman"])
        def test_pays(converse, convoload_persona):
            record = converse()
            assert record.persona.lower() == convoload_persona
            assert record.goal_reached, record.outcome
        """
    )
    result = suite.runpytest(*QUIET, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_pays[[]kataryna[]] PASSED*", "*test_pays[[]edman[]] PASSED*"])


@pytest.mark.e2e
def test_pass_k_fails_when_one_repetition_fails_and_says_which(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        calls = []

        def test_flaky(converse):
            calls.append(1)
            # the second repetition gives the customer too few turns to pay
            record = converse("kataryna", max_iterations=2 if len(calls) == 2 else None)
            assert record.goal_reached

        def test_steady(converse):
            assert converse("edman").goal_reached
        """
    )
    junit = suite.path / "junit.xml"
    result = suite.runpytest(*QUIET, "--convoload-repeat", "3", f"--junit-xml={junit}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*pass^3 failed: 2 of 3 repetitions passed; failed: 2 (shown: repetition 2)*",
            "*convoload conversation 1 of 1, repetition 2 of 3, seed *",
            "Kataryna: max_iterations (no goal after 2 iterations) after 2 turns*",
        ]
    )
    assert properties(junit, PASS_K_PROPERTY) == {"test_flaky": ["2/3"], "test_steady": ["3/3"]}
    transcripts = properties(junit, TRANSCRIPT_PROPERTY)
    assert len(transcripts["test_flaky"]) == 3 and len(transcripts["test_steady"]) == 3
    # Each repetition is its own customer: seeds differ, and the record says which repetition it was.
    heads = [t.splitlines()[0] for t in transcripts["test_steady"]]
    assert len(set(heads)) == 3 and [h.split(", ")[1] for h in heads] == [
        f"repetition {k} of 3" for k in (1, 2, 3)
    ]


@pytest.mark.e2e
def test_a_failed_assertion_shows_the_transcript_outcome_and_reason(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        from convoload.testing import assert_goal

        def test_bare_assert(converse):
            record = converse("edman", max_iterations=2)
            assert record.goal_reached

        def test_helper(converse):
            assert_goal(converse("edman", max_iterations=2))
        """
    )
    junit = suite.path / "junit.xml"
    result = suite.runpytest(*QUIET, f"--junit-xml={junit}")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    bare, helper = out.split("_ test_helper _")
    # A plain assert: pytest's own explanation, then the conversation, in people's words.
    assert "assert record.goal_reached" in bare
    assert "convoload conversation 1 of 1, seed " in bare
    assert "Edman: max_iterations (no goal after 2 iterations) after 2 turns" in bare
    assert "  1 user  bom dia" in bare and "Seja bem-vindo(a) ao Parque" in bare
    # The helper's message is the transcript: not shown a second time below it.
    assert "ConversationFailed: the goal was not reached" in helper
    assert "Edman: max_iterations" in helper and "convoload conversation" not in helper
    # The failure in the JUnit XML carries the same text.
    failures = {c.get("name"): c.find("failure") for c in ET.parse(junit).iter("testcase")}
    assert "Seja bem-vindo(a) ao Parque" in (failures["test_bare_assert"].text or "")
    assert "Edman: max_iterations" in (failures["test_helper"].text or "")


@pytest.mark.e2e
def test_the_junit_xml_carries_every_conversation_transcript(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        def test_two_customers(converse):
            assert converse("kataryna").goal_reached and converse("talliz").goal_reached
        """
    )
    junit = suite.path / "junit.xml"
    # Whatever junit_logging says (its default leaves captured output out of the file).
    suite.runpytest(*QUIET, f"--junit-xml={junit}").assert_outcomes(passed=1)
    (kataryna, talliz) = properties(junit, TRANSCRIPT_PROPERTY)["test_two_customers"]
    assert kataryna.splitlines()[1].startswith("Kataryna: goal_reached (goal: https://pay.example.com/")
    assert talliz.splitlines()[1].startswith("Talliz: goal_reached")
    assert "oii, boa tarde!" in kataryna and "Aqui está o seu link de pagamento" in kataryna
    assert kataryna.splitlines()[0] != talliz.splitlines()[0]  # two seeds


@pytest.mark.e2e
def test_where_the_config_comes_from_and_the_replay_flag(suite: pytest.Pytester) -> None:
    suite.makefile(".yaml", other="run: {seed: 5}\n" + FAST_TICKETS)
    suite.makepyfile(
        """
        import pytest

        def test_ini(convoload_config, pytestconfig):
            assert convoload_config.source.endswith("convoload.yaml")
            assert convoload_config.llm.replay is pytestconfig.getoption("convoload_replay")
            assert "convoload-runs" in convoload_config.run.runs_dir  # never the project's ./runs

        @pytest.mark.convoload(config="other.yaml", options={"split_messages": True})
        def test_marker(convoload_config):
            assert convoload_config.source.endswith("other.yaml") and convoload_config.run.seed == 5
            assert convoload_config.target.demo.options == {"split_messages": True}

        @pytest.mark.convoload(options={"reply_delay": 0.1})
        def test_bad_option(converse):
            pass
        """
    )
    result = suite.runpytest(*QUIET, "--convoload-replay")
    result.assert_outcomes(passed=2, errors=1)
    # Bad input: one line naming where and which field, no traceback.
    result.stdout.fnmatch_lines(["@pytest.mark.convoload: target.demo.reply_delay: unknown field"])
    suite.runpytest(*QUIET, "-k", "test_ini").assert_outcomes(passed=1)  # without the flag: no replay


def test_a_bad_marker_or_repeat_is_refused_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.convoload(persona=["kataryna"])
        def test_typo(converse):
            pass
        """
    )
    result = pytester.runpytest(*QUIET)
    result.stdout.fnmatch_lines(
        ["*test_typo: @pytest.mark.convoload: unknown persona (known: personas, agent, options, config)"]
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result = pytester.runpytest(*QUIET, "--convoload-repeat", "0")
    result.stderr.fnmatch_lines(["*argument --convoload-repeat: must be at least 1, got 0"])


def test_the_plugin_is_cheap_to_load_and_leaves_other_tests_alone(pytester: pytest.Pytester) -> None:
    # Its own process: in ours gevent has patched everything already.
    pytester.makepyfile(
        """
        import sys

        def test_plain(request):
            assert request.config.pluginmanager.has_plugin("convoload")
            assert "convoload.api" not in sys.modules and "locust" not in sys.modules
            from gevent import monkey
            assert not monkey.is_module_patched("socket")
        """
    )
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)
    heavy = "('gevent', 'locust', 'pydantic')"
    code = f"import sys, convoload.testing.plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.e2e
def test_ssl_imported_before_gevent_could_patch_is_explained(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import ssl  # as anyio's pytest plugin does before ours loads

        def test_talks(converse):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gevent must patch ssl*add `-p convoload.testing.patched` to addopts*"])


@pytest.mark.e2e
def test_the_examples_suite_passes(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={junit}"],
        cwd=REPO / "examples" / "pytest",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    transcripts = properties(junit, TRANSCRIPT_PROPERTY)
    assert len(transcripts) == 6 and all(len(t) == 1 for t in transcripts.values())
    assert "Edman: goal_reached" in transcripts["test_every_customer_gets_a_payment_link[edman]"][0]


def test_the_docs_show_the_examples_test_file_as_it_is() -> None:
    shown = docs_blocks("guides/pytest.md", "# Tests with pytest")
    code = (REPO / "examples" / "pytest" / "test_tickets.py").read_text(encoding="utf-8")
    assert shown["python"] == code, "the docs' example differs from examples/pytest/test_tickets.py"
