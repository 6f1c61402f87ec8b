"""The test pipeline against the bundled real-estate system: scenarios, integration metrics, grades."""

import csv
import json
from contextlib import ExitStack

import pytest

from convoload.conversation.records import ConversationRecord, TurnRecord
from convoload.errors import ConfigError
from convoload.pipeline.consistency import check, parse_amount
from convoload.pipeline.model import builtin_scenarios, load_scenarios
from convoload.pipeline.runner import run_pipeline, start_system
from convoload.store.results import ResultsStore
from tests.conftest import write

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


def test_data_consistency_checks_bedrooms_neighbourhood_and_unknown_ids():
    line = "1) Studio — R$ 2,300 — 2 bedrooms — Trindade (code #351)"
    report = check(
        [record_saying(line, "2) X — R$ 1 — 1 quartos — Centro (código #999)")],
        lambda pid: LISTING if pid == 351 else (_ for _ in ()).throw(KeyError(pid)),
    )
    fields = sorted(m.field for m in report.mismatches)
    assert fields == ["bedrooms", "id", "neighbourhood", "price"] and report.score == 0.0
    assert parse_amount("2,300") == 2300 and parse_amount("8.000.000") == 8_000_000


def test_the_four_builtin_scenarios_pass_against_the_bundled_system(tmp_path):
    scenarios = builtin_scenarios()
    assert [s.name for s in scenarios] == [
        "basic_user_journey",
        "catalog_data_integration",
        "high_volume_concurrent",
        "error_handling_resilience",
    ]
    with ExitStack() as resources:
        system = start_system(resources, 2_000)
        document = run_pipeline(scenarios, system, runs_dir=tmp_path, repeat=2, seed=4)
    by_name = {s["name"]: s for s in document["scenarios"]}
    assert by_name["basic_user_journey"]["conversations"] == 4  # 2 users x 2 repetitions
    for scenario in document["scenarios"]:
        assert scenario["success_rate"] == 1.0, scenario["name"]
        assert scenario["pass_k"] == {"k": 2, "value": 1.0}
        assert scenario["grade"] == "A+" and scenario["health"] == "healthy"
    assert by_name["catalog_data_integration"]["data_consistency"]["checked"] >= 2
    assert by_name["catalog_data_integration"]["integration"]["data_consistency"] == 1.0
    assert set(by_name["high_volume_concurrent"]["per_agent"]) == {
        "triagem",
        "busca",
        "imovel",
        "agendamento",
    }
    assert by_name["high_volume_concurrent"]["integration"]["agent_coordination"] == 1.0
    resilience = by_name["error_handling_resilience"]
    assert resilience["conversations"] == 12 and resilience["recommendations"] == [
        "No action needed: every check passed."
    ]
    # Refusing empty and over-long input with a 4xx is this scenario's point: no blow to its quality.
    assert resilience["findings"]["error_responses"]["count"] == 4
    assert resilience["integration"]["coherence"] == resilience["integration"]["user_experience"] == 1.0
    overall = document["overall"]
    assert overall["system_healthy_after"] and overall["grade"] == "A+"
    folder = tmp_path / document["pipeline_id"]
    saved = json.loads((folder / "real_test_results.json").read_text())
    assert saved["overall"]["success_rate"] == 1.0 and len(saved["scenarios"]) == 4
    with open(folder / "scenarios.csv", newline="") as handle:
        assert [row["scenario"] for row in csv.DictReader(handle)] == list(by_name)
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}", create=False) as store:  # runs_dir's
        run_id = by_name["high_volume_concurrent"]["runs"][0].rsplit("/", 1)[-1]
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


def test_quality_metrics_move_the_grade_of_a_scenario_whose_replies_are_apologies(tmp_path):
    # The bundled assistant with an LLM brain whose provider cannot be reached answers every message with
    # HTTP 200 and an apology ("our assistant is unavailable right now"). A resilience scenario's own rule
    # (every message answered, nothing 5xx) is met; its coherence is not, and the grade must say so.
    import socket

    from convoload.pipeline.runner import System
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
        system = System(assistant.chat_url, catalog.url, assistant.url + "/health")
        document = run_pipeline(load_scenarios(scenarios), system, runs_dir=tmp_path / "runs")
    scenario = document["scenarios"][0]
    assert scenario["success_rate"] == 1.0 and scenario["health"] == "healthy"  # by its own rule
    assert scenario["findings"]["error_responses"]["count"] == 2
    assert scenario["integration"]["coherence"] == 0.0 and scenario["integration"]["user_experience"] == 1.0
    assert scenario["grade"] == "D"
    assert scenario["recommendations"][0].startswith("coherence is 0.00 (grade at most D): 100 % of replies")
    assert not any(line.startswith("No action needed") for line in scenario["recommendations"])
    overall = document["overall"]
    assert overall["grade"] == "D" and overall["system_healthy_after"]
    assert overall["recommendations"][0] == f"every_message_answered: {scenario['recommendations'][0]}"
    folder = tmp_path / "runs" / document["pipeline_id"]
    with open(folder / "scenarios.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    assert row["grade"] == "D" and row["coherence"] == "0.0"
