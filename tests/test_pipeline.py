"""The test pipeline: the realestate suite against the bundled real-estate system (scenarios,
integration metrics, grades), suites of one's own, and what a suite brings (checks, hand-offs)."""

import csv
import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from convoload.bundled import StartedSystem, chat_target
from convoload.errors import ConfigError
from convoload.model import ConversationRecord, PassK, PipelineResults, TurnRecord
from convoload.pipeline import SUITES, DomainCheck, Scenario, ScenarioSuite, load_scenarios, resolve_suite
from convoload.pipeline.runner import run_pipeline, start_suite_system
from convoload.store.results import ResultsStore
from convoload_demo.realestate.scenarios import ALLOWED_HANDOFFS, read_handoffs
from convoload_demo.realestate.scenarios.consistency import check, parse_amount
from tests.helpers import docs_blocks, error_line, invoke, write

REALESTATE = SUITES.get("realestate")
# The results' CSV columns, as every earlier pipeline wrote them for the realestate suite.
CSV_HEADER = [
    "scenario",
    "conversations",
    "successful",
    "success_rate",
    "p50_ms",
    "p95_ms",
    "grade",
    "health",
    "coherence",
    "agent_coordination",
    "data_consistency",
    "user_experience",
]


def read_back(results: PipelineResults) -> dict:
    """The results file run_pipeline wrote; it must be the typed results' document, byte for byte."""
    assert results.folder is not None
    text = (results.folder / "real_test_results.json").read_text(encoding="utf-8")
    read = PipelineResults.read(results.folder)
    assert json.dumps(read.to_document(), ensure_ascii=False, indent=2) == text  # as store.journal writes
    assert read == results and read.folder == results.folder
    return json.loads(text)


LISTING = {"id": 351, "price": 450_000, "bedrooms": 3, "neighbourhood": "Água Verde"}


def record_saying(*lines):
    turn = TurnRecord(
        iteration=2,
        user_text="quero ver",
        sent_at="",
        reply_text="\n".join(
            ["Encontrei 3 imóveis. Os de menor preço:", *lines, "Quer saber mais sobre algum?"]
        ),
    )
    return ConversationRecord(
        run_id="r", session_id="s", user_id=1, persona="Renata", started_at="", turns=[turn]
    )


def test_data_consistency_catches_a_wrong_price():
    right = "1) Apartamento 3 quartos — R$ 450.000 — 3 quartos — Água Verde (código #351)"
    wrong = "2) Apartamento 3 quartos — R$ 405.000 — 3 quartos — Agua Verde (código #351)"
    report = check([record_saying(right, wrong)], lambda pid: LISTING)
    assert report.checked == 2
    assert [(m.field, m.said, m.catalog) for m in report.mismatches] == [("price", 405_000, 450_000)]
    assert report.score == 0.5
    # In the results file as ever: the same keys, in the same order.
    [mismatch] = report.to_json()["mismatches"]
    assert list(mismatch.items()) == [
        ("session_id", "s"),
        ("iteration", 2),
        ("property_id", 351),
        ("field", "price"),
        ("said", 405_000),
        ("catalog", 450_000),
    ]


def test_data_consistency_checks_bedrooms_neighbourhood_and_unknown_ids():
    line = "1) Studio — R$ 2,300 — 2 bedrooms — Trindade (code #351)"
    report = check(
        [record_saying(line, "2) X — R$ 1 — 1 quartos — Centro (código #999)")],
        lambda pid: LISTING if pid == 351 else (_ for _ in ()).throw(KeyError(pid)),
    )
    fields = sorted(m.field for m in report.mismatches)
    assert fields == ["bedrooms", "id", "neighbourhood", "price"] and report.score == 0.0
    assert parse_amount("2,300") == 2300 and parse_amount("8.000.000") == 8_000_000


@pytest.mark.e2e
@pytest.mark.slow
def test_the_four_realestate_scenarios_pass_against_the_bundled_system(tmp_path):
    assert resolve_suite("realestate") is REALESTATE and REALESTATE.system == "realestate"
    assert [s.name for s in REALESTATE.scenarios] == [
        "basic_user_journey",
        "catalog_data_integration",
        "high_volume_concurrent",
        "error_handling_resilience",
    ]
    with ExitStack() as resources:
        system = start_suite_system(REALESTATE, resources, options={"listings": 2_000})
        results = run_pipeline(REALESTATE, system, runs_dir=tmp_path, repeat=2, seed=4)
    assert results.system.assistant == system.chat_url and results.system.catalog == system.catalog_url
    by_name = {s.name: s for s in results.scenarios}
    assert by_name["basic_user_journey"].conversations == 4  # 2 users x 2 repetitions
    for scenario in results.scenarios:
        assert scenario.success_rate == 1.0, scenario.name
        assert scenario.pass_k == PassK(k=2, value=1.0)
        assert scenario.grade == "A+" and scenario.health == "healthy"
    assert by_name["catalog_data_integration"].checks["data_consistency"].checked >= 2
    assert by_name["catalog_data_integration"].integration["data_consistency"] == 1.0
    assert set(by_name["high_volume_concurrent"].per_agent) == {
        "triagem",
        "busca",
        "imovel",
        "agendamento",
    }
    assert by_name["high_volume_concurrent"].integration["agent_coordination"] == 1.0
    resilience = by_name["error_handling_resilience"]
    assert resilience.conversations == 12 and resilience.recommendations == [
        "No action needed: every check passed."
    ]
    # Refusing empty and over-long input with a 4xx is this scenario's point: no blow to its quality.
    assert resilience.findings["error_responses"].count == 4
    assert resilience.integration["coherence"] == resilience.integration["user_experience"] == 1.0
    overall = results.overall
    assert overall.system_healthy_after and overall.grade == "A+"
    folder = tmp_path / results.pipeline_id
    assert results.folder == folder
    saved = read_back(results)
    assert saved["overall"]["success_rate"] == 1.0 and len(saved["scenarios"]) == 4
    with open(folder / "scenarios.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        assert [row["scenario"] for row in reader] == list(by_name)
        assert reader.fieldnames == CSV_HEADER
    for scenario in saved["scenarios"]:  # every scenario holds the suite's check, run or not
        assert list(scenario["integration"]) == CSV_HEADER[8:]
        # ... as a key of its own, between the metrics and the health, as every pipeline wrote it
        assert list(scenario)[7:10] == ["integration", "data_consistency", "health"]
        assert set(scenario["data_consistency"]) == {"checked", "mismatches"}
    assert list(overall.integration) == CSV_HEADER[8:]
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}", create=False) as store:  # runs_dir's
        run_id = by_name["high_volume_concurrent"].runs[0].rsplit("/", 1)[-1]
        grades = {g.scenario: g.grade for g in store.grades(run_id)}
        assert grades == {"run": "A+", "high_volume_concurrent": "A+"}


def test_scenario_files_are_validated(tmp_path):
    good = write(tmp_path / "s.yaml", "scenarios:\n  - {name: quick, conversations: 1, personas: [renata]}\n")
    assert load_scenarios(good)[0].name == "quick"
    bad = write(tmp_path / "b.yaml", "- {name: quick, conversations: 0}\n")
    with pytest.raises(ConfigError) as info:
        load_scenarios(bad)
    assert info.value.field == "scenarios.0.conversations"
    dup = write(tmp_path / "d.yaml", "- {name: a}\n- {name: a}\n")
    with pytest.raises(ConfigError, match="unique"):
        load_scenarios(dup)


def test_a_scenario_file_must_fit_the_suite_it_runs_with(tmp_path):
    checked = write(
        tmp_path / "c.yaml", "- {name: a, checks: [data_consistency]}\n- {name: b, checks: [prices]}\n"
    )
    assert load_scenarios(checked)[1].checks == ["prices"]  # no suite: any name
    with pytest.raises(ConfigError) as info:
        load_scenarios(checked, suite=REALESTATE)
    assert (info.value.source, info.value.field) == (str(checked), "scenarios.1.checks")
    assert "unknown check 'prices' (suite 'realestate' has: data_consistency)" in str(info.value)
    # No personas: the suite's (the realestate suite has five); a suite without any wants them named.
    plain = write(tmp_path / "p.yaml", "- {name: a}\n")
    [scenario] = load_scenarios(plain, suite=REALESTATE)
    assert REALESTATE.personas_of(scenario) == ["renata", "ricardo", "julia", "helena", "marcus"]
    assert REALESTATE.goal_of(scenario).pattern == "visita agendada|visit booked"
    mine = ScenarioSuite(name="mine", scenarios=(), target={"type": "http", "url": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError) as info:
        load_scenarios(plain, suite=mine)
    assert info.value.field == "scenarios.0.personas"
    assert "suite 'mine' has no default personas" in str(info.value)


def test_a_suite_is_checked_when_it_is_made_and_when_it_is_looked_up(tmp_path, monkeypatch):
    scenario = Scenario(name="a", personas=["renata"], checks=["prices"])
    with pytest.raises(ValueError, match="unknown check 'prices'"):
        ScenarioSuite(name="x", scenarios=(scenario,))
    with pytest.raises(ValueError, match="check name 'checks' is not allowed"):  # the results' own
        ScenarioSuite(name="x", scenarios=(), checks=(DomainCheck("checks", lambda records, system: None),))
    with pytest.raises(ValueError, match="either `system`"):
        ScenarioSuite(name="x", scenarios=(), system="realestate", target={"type": "python"})
    with pytest.raises(ConfigError) as info:
        resolve_suite("nope")
    assert str(info.value) == "--suite: unknown scenario suite 'nope' (installed: realestate)"
    write(tmp_path / "not_a_suite.py", "SUITE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="expected a ScenarioSuite, got int"):
        resolve_suite("not_a_suite:SUITE")


@pytest.mark.e2e
@pytest.mark.slow
def test_quality_metrics_move_the_grade_of_a_scenario_whose_replies_are_apologies(tmp_path):
    # The bundled assistant with an LLM brain whose provider cannot be reached answers every message with
    # HTTP 200 and an apology ("our assistant is unavailable right now"). A resilience scenario's own rule
    # (every message answered, nothing 5xx) is met; its coherence is not, and the grade must say so.
    import socket

    from convoload_demo.realestate.assistant.launcher import AssistantServer
    from convoload_demo.realestate.assistant.settings import AssistantSettings
    from convoload_demo.realestate.catalog.launcher import CatalogServer
    from convoload_demo.realestate.catalog.settings import CatalogSettings

    with socket.socket() as sock:  # a loopback port where nothing listens: the model is down
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    scenarios = write(
        tmp_path / "apologies.yaml",
        "- name: every_message_answered\n"
        "  conversations: 2\n"
        "  success: graceful\n"
        "  scripts: [['oi, quero alugar um apartamento em Curitiba'], ['Hello! I want to buy a house']]\n",
    )
    with ExitStack() as resources:
        catalog = resources.enter_context(CatalogServer(CatalogSettings(listings=200)))
        settings = AssistantSettings(
            catalog_url=catalog.url, brain="llm", llm=("local/down",), local_llm_url=nowhere
        )
        assistant = resources.enter_context(AssistantServer(settings))
        system = StartedSystem(
            name="realestate",
            url=assistant.url,
            target=chat_target(assistant.chat_url),
            health={"agent": assistant.url + "/health"},
            chat_url=assistant.chat_url,
            catalog_url=catalog.url,
        )
        suite = REALESTATE.with_scenarios(load_scenarios(scenarios, suite=REALESTATE))
        results = run_pipeline(suite, system, runs_dir=tmp_path / "runs")
    scenario = results.scenarios[0]
    assert scenario.success_rate == 1.0 and scenario.health == "healthy"  # by its own rule
    assert scenario.findings["error_responses"].count == 2
    assert scenario.integration["coherence"] == 0.0 and scenario.integration["user_experience"] == 1.0
    assert scenario.grade == "D"
    assert scenario.recommendations[0].startswith("coherence is 0.00 (grade at most D): 100 % of replies")
    assert not any(line.startswith("No action needed") for line in scenario.recommendations)
    overall = results.overall
    assert overall.grade == "D" and overall.system_healthy_after
    assert overall.recommendations[0] == f"every_message_answered: {scenario.recommendations[0]}"
    folder = tmp_path / "runs" / results.pipeline_id
    with open(folder / "scenarios.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["grade"] == "D" and row["coherence"] == "0.0"


# -- what a suite brings: hand-offs, its own target, its own checks -----------------------------------


def test_the_realestate_suite_allows_exactly_the_hand_offs_its_agents_can_make():
    from convoload_demo.realestate.swarm.agents import build_agents

    tools = {(name, tool.handoff_to) for name, agent in build_agents(None).items() for tool in agent.tools}
    assert {move for move in tools if move[1] is not None} == ALLOWED_HANDOFFS


def test_reported_hand_offs_are_read_whatever_shape_the_reply_has():
    assert read_handoffs({"reply": "oi", "agent": "triagem"}) is None  # reports none
    assert read_handoffs({"reply": "oi", "handoffs": []}) == []  # reports that there were none
    garbled = {"handoffs": [{"from": "a", "to": "b"}, "a->b", {"from": 1, "to": "b"}, {"to": "b"}]}
    assert read_handoffs(garbled) == [("a", "b"), ("?", "?"), ("?", "?"), ("?", "?")]
    assert read_handoffs({"handoffs": "a->b"}) == [("?", "?")]
    # A webhook reply split over callbacks: their hand-offs, in order.
    split = [
        {"handoffs": [{"from": "a", "to": "b"}]},
        {"reply": "x"},
        {"handoffs": [{"from": "b", "to": "c"}]},
    ]
    assert read_handoffs(split) == [("a", "b"), ("b", "c")]
    assert read_handoffs("plain text") is None and read_handoffs(None) is None


def _relay_agent(local_app):
    """An agent that answers as `a`, then hands over a -> b -> c inside one reply (and says so)."""
    turns: dict[str, int] = {}

    def handler(environ, body):
        session = json.loads(body)["session_id"]
        turns[session] = turns.get(session, 0) + 1
        if turns[session] == 1:
            return 200, {"reply": "oi, em que posso ajudar?", "agent": "a"}
        moves = [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}] if turns[session] == 2 else []
        return 200, {"reply": "pronto, aqui está o que pediu", "agent": "c", "handoffs": moves}

    return local_app(handler)


def test_agent_coordination_follows_the_hand_offs_the_agent_reports(tmp_path, local_app):
    # Final agents of consecutive turns are a then c, a move the suite does not allow; the reply says
    # the conversation went a -> b -> c, which it does. Only the reply knows: it is not a fault.
    import dataclasses

    app = _relay_agent(local_app)
    suite = ScenarioSuite(
        name="relay",
        target=chat_target(app.url + "/chat"),
        personas=("renata",),
        scenarios=(
            Scenario(
                name="relay", conversations=2, success="graceful", scripts=[["oi", "quero c", "obrigado"]]
            ),
        ),
        allowed_handoffs=frozenset({("a", "b"), ("b", "c")}),
        read_handoffs=read_handoffs,
    )

    def coordination(suite: ScenarioSuite, runs: str) -> float:
        with ExitStack() as resources:
            system = start_suite_system(suite, resources)
            results = run_pipeline(suite, system, runs_dir=tmp_path / runs)
        [scenario] = results.scenarios
        assert scenario.successful == 2 and scenario.per_agent.keys() == {"a", "c"}
        assert results.overall.system_healthy_after  # no health endpoint: nothing says otherwise
        return scenario.integration["agent_coordination"]

    assert coordination(suite, "reported") == 1.0
    assert coordination(dataclasses.replace(suite, allowed_handoffs=frozenset({("a", "b")})), "half") == 0.5
    assert coordination(dataclasses.replace(suite, read_handoffs=None), "unreported") == 0.0  # a -> c
    # A suite with no opinion on hand-offs gets no coordination metric (nor a column for it).
    silent = dataclasses.replace(suite, allowed_handoffs=None)
    with ExitStack() as resources:
        results = run_pipeline(silent, start_suite_system(silent, resources), runs_dir=tmp_path / "silent")
    assert list(results.overall.integration) == ["coherence", "user_experience"]
    assert results.scenarios[0].checks == {}  # the suite has none
    assert list(read_back(results)["scenarios"][0])[7:9] == ["integration", "health"]
    assert results.folder is not None
    with open(results.folder / "scenarios.csv", newline="") as handle:
        assert csv.DictReader(handle).fieldnames == [*CSV_HEADER[:8], "coherence", "user_experience"]


def _docs_suite() -> str:
    """The code of the docs' "Your own scenario suite" example (the pipeline guide)."""
    return docs_blocks("guides/pipeline.md", "## Your own scenario suite")["python"]


def test_the_docs_suite_runs_and_its_check_grades(tmp_path, monkeypatch):
    write(tmp_path / "my_suite.py", _docs_suite())
    monkeypatch.syspath_prepend(str(tmp_path))
    ran = invoke("pipeline", "--suite", "my_suite:SUITE", "--runs-dir", str(tmp_path / "runs"), "--json")
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    [scenario] = document["scenarios"]
    assert scenario["echoes"] == {"checked": 3, "mismatches": []}  # three messages, three quoting replies
    assert scenario["integration"] == {"coherence": 1.0, "echoes": 1.0, "user_experience": 1.0}
    assert (scenario["successful"], scenario["grade"]) == (2, "A+")
    # --json prints the results file's document, then the folder it is in.
    folder = Path(document.pop("folder"))
    text = (folder / "real_test_results.json").read_text(encoding="utf-8")
    assert json.dumps(document, ensure_ascii=False, indent=2) == text
    assert PipelineResults.read(folder).scenario("greetings").checks["echoes"].checked == 3
    with open(folder / "scenarios.csv", newline="") as handle:
        assert csv.DictReader(handle).fieldnames == [
            *CSV_HEADER[:8],
            "coherence",
            "echoes",
            "user_experience",
        ]

    # The check has teeth: an echo bot that misquotes fails it, and the grade and recommendation say so.
    import my_suite

    monkeypatch.setattr(my_suite, "reply", lambda text, session, iteration: "Recebi outra coisa, desculpe")
    with ExitStack() as resources:
        results = run_pipeline(
            my_suite.SUITE, start_suite_system(my_suite.SUITE, resources), runs_dir=tmp_path / "runs"
        )
    [scenario] = results.scenarios
    mismatches = scenario.checks["echoes"].mismatches
    assert sorted((m["iteration"], m["session_id"] != "") for m in mismatches) == [
        (1, True),
        (1, True),
        (2, True),
    ]
    assert (scenario.successful, scenario.integration["echoes"], scenario.grade) == (0, 0.0, "D")
    assert read_back(results)["scenarios"][0]["echoes"]["mismatches"] == mismatches
    assert scenario.recommendations[0] == (
        "echoes is 0.00 (grade at most D): 100 % of replies did not quote the customer."
    )


def test_an_unknown_suite_is_one_line_naming_the_installed_ones(tmp_path, monkeypatch):
    ran = invoke("pipeline", "--suite", "nope", "--runs-dir", str(tmp_path))
    assert error_line(ran) == "--suite: unknown scenario suite 'nope' (installed: realestate)"
    assert ran.stdout == ""
    ran = invoke("pipeline", "--suite", "no_such_module:SUITE", cwd=tmp_path)
    assert error_line(ran).startswith("--suite: cannot import module 'no_such_module'")
    assert not (tmp_path / "results.sqlite").exists()  # nothing started, nothing written
    write(
        tmp_path / "own_suite.py",
        "from convoload.pipeline import ScenarioSuite\n"
        "SUITE = ScenarioSuite(name='own', scenarios=(), target={'type': 'python', 'function': 'x:y'})\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ran = invoke("pipeline", "--suite", "own_suite:SUITE", "--listings", "500", cwd=tmp_path)
    assert error_line(ran) == "--listings: suite 'own' starts no bundled system"


def test_a_pipeline_stopped_before_its_first_scenario_still_writes_its_results(tmp_path):
    # Nothing ran, so there is no scenario to average the quality metrics over: that once divided by zero
    # and lost the results file of a pipeline stopped early.
    from convoload.pipeline.runner import target_system
    from convoload.signals import StopRequest

    stop = StopRequest()
    stop.set("SIGTERM")
    system = target_system("nowhere", {"type": "http", "url": "http://127.0.0.1:9/api/chat"})
    results = run_pipeline(REALESTATE, system, runs_dir=tmp_path, stop=stop)
    assert results.scenarios == [] and results.stopped_by == "SIGTERM"
    assert results.skipped_scenarios == [s.name for s in REALESTATE.scenarios]
    overall = results.overall
    assert overall.conversations == 0 and overall.grade == "D" and overall.health == "critical"
    # nothing measured, nothing vouched for
    assert overall.integration == dict.fromkeys(CSV_HEADER[8:], 0.0)
    assert overall.recommendations[0].startswith("Incomplete pipeline (stopped by SIGTERM): 0 of 4 scenarios")
    assert overall.complete is False and not results.complete
    saved = read_back(results)
    assert saved["overall"] == overall.to_document() and list(saved["overall"])[-1] == "complete"
    assert list(saved)[-2:] == ["stopped_by", "skipped_scenarios"]
    assert results.folder is not None
    with open(results.folder / "scenarios.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [CSV_HEADER]


def test_a_check_that_breaks_costs_its_metric_not_the_results(tmp_path, local_app):
    def broken(records, system):
        raise RuntimeError("catalog gone")

    app = _relay_agent(local_app)
    suite = ScenarioSuite(
        name="relay",
        target=chat_target(app.url + "/chat"),
        personas=("renata",),
        scenarios=(
            Scenario(name="relay", conversations=1, success="graceful", scripts=[["oi"]], checks=["prices"]),
        ),
        checks=(DomainCheck("prices", broken, advice="prices were not checked or did not match"),),
    )
    with ExitStack() as resources:
        results = run_pipeline(suite, start_suite_system(suite, resources), runs_dir=tmp_path)
    [scenario] = results.scenarios
    assert scenario.checks["prices"].error == "RuntimeError: catalog gone"
    assert scenario.integration["prices"] == 0.0 and scenario.grade == "D"
    assert scenario.recommendations[0].startswith("prices is 0.00 (grade at most D): 100 % of prices were")
    saved = read_back(results)["scenarios"][0]
    assert saved["prices"] == {"checked": 0, "mismatches": [], "error": "RuntimeError: catalog gone"}
