"""The conversation judge in the test pipeline: which scenarios it judges, the `judge` metric, its say in
coherence and user experience, the grade and the recommendations naming failed criteria; results of a
pipeline without it stay as they were."""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack

import pytest

from convoload.bundled import chat_target
from convoload.config import Config
from convoload.errors import ConfigError
from convoload.judge.runner import JUDGEMENTS_NAME, SUMMARY_NAME
from convoload.model import PipelineResults
from convoload.model.judgement import CriterionScore, Judgement
from convoload.pipeline import SUITES, DomainCheck, Scenario, ScenarioSuite, load_scenarios
from convoload.pipeline.judging import apply_judge, judge_recommendations, judges
from convoload.pipeline.runner import run_pipeline, start_suite_system
from tests.helpers import error_line, invoke, write

REALESTATE = SUITES.get("realestate")

# A rubric the local judge can score without reference facts: its tone and goal checks.
RUBRIC = (
    "name: chat\n"
    "criteria:\n"
    "  - {id: goal_resolved, description: the customer got what they came for, scale: 1-5, pass_at: 4,\n"
    "     quality: coherence}\n"
    "  - {id: whatsapp_tone, description: short friendly polite chat messages, scale: 1-5,\n"
    "     quality: user_experience}\n"
)


def read_back(results: PipelineResults) -> dict:
    assert results.folder is not None
    text = (results.folder / "real_test_results.json").read_text(encoding="utf-8")
    read = PipelineResults.read(results.folder)
    assert json.dumps(read.to_document(), ensure_ascii=False, indent=2) == text
    assert read == results
    return json.loads(text)


# What the shipped realestate rubric marks each criterion as (its `quality`); unknown ids: none.
QUALITY = {"goal_resolved": "coherence", "whatsapp_tone": "user_experience"}


def _judgement(session: str, passed: bool, **criteria: tuple[bool, str]) -> Judgement:
    return Judgement(
        run_id="r",
        session_id=session,
        user_id=1,
        persona="renata",
        rubric="realestate",
        status="judged",
        passed=passed,
        score=1.0 if passed else 0.4,
        criteria=[
            CriterionScore(
                id=cid,
                score=5 if ok else 1,
                normalised=1.0 if ok else 0.0,
                passed=ok,
                reason=why,
                quality=QUALITY.get(cid),
            )
            for cid, (ok, why) in criteria.items()
        ],
    )


def test_the_judge_metric_and_its_say_in_coherence_and_user_experience():
    good = {"goal_resolved": (True, "booked"), "whatsapp_tone": (True, "friendly")}
    rude = {"goal_resolved": (True, "booked"), "whatsapp_tone": (False, "turn 2: rude ('se vira')")}
    lost = {"goal_resolved": (False, "no visit booked"), "whatsapp_tone": (False, "turn 1: shouting")}
    judgements = [
        _judgement("a", True, **good),
        _judgement("b", False, **rude),
        _judgement("c", False, **rude),
        _judgement("d", False, **lost),
    ]
    integration = {"coherence": 0.9, "data_consistency": 1.0, "user_experience": 0.2}
    apply_judge(integration, judgements)
    # judge: 1 of 4 passed; coherence: min(0.9, goal_resolved 3 of 4); user experience: min(0.2, tone 1 of 4)
    assert integration == {
        "coherence": 0.75,
        "data_consistency": 1.0,
        "user_experience": 0.2,
        "judge": 0.25,
    }
    assert list(integration)[-1] == "judge"
    assert judge_recommendations(judgements) == [
        "judge: whatsapp_tone failed in 3 of 4 conversations: turn 2: rude ('se vira')",
        "judge: goal_resolved failed in 1 of 4 conversations: no visit booked",
    ]
    broken = Judgement(
        run_id="r",
        session_id="e",
        user_id=2,
        persona="renata",
        rubric="x",
        status="judge_error",
        error="down",
    )
    lines = judge_recommendations([*judgements, broken])
    assert lines[-1] == "judge: 1 of 5 conversations could not be judged: down"
    nothing = {"coherence": 1.0, "user_experience": 1.0}
    apply_judge(nothing, [broken])  # nothing judged: the judge's failure is not the agent's, no metric
    assert nothing == {"coherence": 1.0, "user_experience": 1.0}


def test_only_criteria_the_rubric_marks_cap_coherence_and_user_experience():
    # A failing criterion with no `quality` counts in the judge metric only, whatever its id says.
    unmarked = _judgement("a", False, goal_of_the_day=(False, "missed"), tone_check=(False, "curt"))
    integration = {"coherence": 0.9, "user_experience": 0.8}
    apply_judge(integration, [unmarked])
    assert integration == {"coherence": 0.9, "user_experience": 0.8, "judge": 0.0}


def test_the_shipped_rubrics_mark_what_each_criterion_speaks_to():
    from convoload.judge.rubric import load_rubric

    for name in ("tickets", "realestate"):
        marks = {c.id: c.quality for c in load_rubric(name).criteria}
        assert marks["goal_resolved"] == "coherence" and marks["whatsapp_tone"] == "user_experience", name
        assert marks["customer_language"] == marks["personal_data_when_needed"] == "user_experience", name


def test_which_scenarios_are_judged_and_their_rubrics_are_checked_when_read(tmp_path):
    write(tmp_path / "chat.yaml", RUBRIC)
    scenarios = write(
        tmp_path / "s.yaml",
        "- {name: plain, scripts: [[oi]]}\n"
        "- {name: never, scripts: [[oi]], judge: false}\n"
        "- {name: own, scripts: [[oi]], judge: {rubric: chat.yaml}}\n",
    )
    plain, never, own = load_scenarios(scenarios)
    assert [judges(s, False) for s in (plain, never, own)] == [False, False, True]
    assert [judges(s, True) for s in (plain, never, own)] == [True, False, True]
    assert own.judge is not None and own.judge.rubric == str(tmp_path / "chat.yaml")  # next to the file

    bad = write(tmp_path / "bad.yaml", "- {name: a, scripts: [[oi]], judge: {rubric: no-such-rubric}}\n")
    with pytest.raises(ConfigError) as info:
        load_scenarios(bad)
    assert info.value.field == "scenarios.0.judge.rubric" and "no-such-rubric" in str(info.value)
    assert "\n" not in str(info.value)
    typo = write(tmp_path / "typo.yaml", "- {name: a, scripts: [[oi]], judge: {rubrik: chat}}\n")
    with pytest.raises(ConfigError, match="rubrik"):
        load_scenarios(typo)
    # A suite's check may not take the judge metric's name, nor its results section's.
    for name in ("judge", "judgement"):
        with pytest.raises(ValueError, match=f"check name '{name}' is not allowed"):
            ScenarioSuite(name="x", scenarios=(), checks=(DomainCheck(name, lambda records, system: None),))


def _rude_agent(local_app):
    """An agent that shouts in capitals: the tone criterion must fail."""

    def handler(environ, body):
        return 200, {
            "reply": "AGUARDE, ESTAMOS VERIFICANDO OS IMOVEIS DISPONIVEIS AGORA",
            "agent": "a",
        }

    return local_app(handler)


@pytest.mark.e2e
def test_a_rude_agent_fails_the_judge_and_the_grade_and_recommendations_say_why(tmp_path, local_app):
    write(tmp_path / "chat.yaml", RUBRIC)
    app = _rude_agent(local_app)
    suite = ScenarioSuite(
        name="rude",
        target=chat_target(app.url + "/chat"),
        personas=("renata",),
        scenarios=(
            Scenario(name="judged", conversations=2, success="graceful", scripts=[["oi, quero alugar"]]),
            Scenario(name="unjudged", conversations=1, success="graceful", scripts=[["oi"]], judge=False),
        ),
        rubric=str(tmp_path / "chat.yaml"),
    )
    with ExitStack() as resources:
        system = start_suite_system(suite, resources)
        results = run_pipeline(suite, system, runs_dir=tmp_path / "runs", judge_config=Config())
    judged, unjudged = results.scenarios
    assert judged.judgement is not None and judged.judgement.judged == 2
    assert judged.judgement.rubrics == ["chat"] and judged.judgement.criteria["whatsapp_tone"] == 0.0
    assert judged.integration["judge"] == 0.0 and judged.integration["user_experience"] == 0.0
    assert judged.grade == "D"
    tone = [line for line in judged.recommendations if line.startswith("judge: whatsapp_tone failed")]
    assert len(tone) == 1 and tone[0].startswith("judge: whatsapp_tone failed in 2 of 2 conversations: ")
    assert "shouting in capitals" in tone[0]
    assert not any(line.startswith("No action needed") for line in judged.recommendations)
    # judge: false: no metric, no section, as a pipeline without the judge writes it
    assert "judge" not in unjudged.integration and unjudged.judgement is None
    assert unjudged.integration["user_experience"] == 1.0
    assert results.overall.integration["judge"] == 0.0  # over the judged scenarios only
    # Each repetition's run folder holds its verdicts, as `convoload judge RUN` writes them.
    run_dir = tmp_path / "runs" / results.pipeline_id / judged.runs[0].rsplit("/", 1)[-1]
    assert len((run_dir / JUDGEMENTS_NAME).read_text(encoding="utf-8").splitlines()) == 2
    assert json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))["judged"] == 2
    saved = read_back(results)
    assert saved["scenarios"][0]["judgement"]["pass_rate"] == 0.0
    assert "judgement" not in saved["scenarios"][1]
    with open(results.folder / "scenarios.csv", newline="") as handle:  # type: ignore[operator]
        rows = list(csv.DictReader(handle))
    assert [row["judge"] for row in rows] == ["0.0", ""]


@pytest.mark.e2e
def test_a_scenario_naming_its_rubric_is_judged_without_the_pipeline_judging(tmp_path, local_app):
    write(tmp_path / "chat.yaml", RUBRIC)
    scenarios = write(
        tmp_path / "s.yaml",
        "- {name: own, conversations: 1, success: graceful, scripts: [[oi]], judge: {rubric: chat.yaml}}\n"
        "- {name: plain, conversations: 1, success: graceful, scripts: [[oi]]}\n",
    )
    app = _rude_agent(local_app)
    suite = ScenarioSuite(
        name="rude", target=chat_target(app.url + "/chat"), personas=("renata",), scenarios=()
    ).with_scenarios(load_scenarios(scenarios))
    with ExitStack() as resources:
        results = run_pipeline(suite, start_suite_system(suite, resources), runs_dir=tmp_path / "runs")
    own, plain = results.scenarios
    assert own.integration["judge"] == 0.0 and own.judgement is not None
    assert "judge" not in plain.integration and plain.judgement is None


def test_the_realestate_suite_judges_its_booking_scenario_on_request():
    # The rubric asks for a booked visit: the partial journeys and the bad input are not judged.
    assert REALESTATE.rubric == "realestate"
    assert [s.name for s in REALESTATE.scenarios if judges(s, True)] == ["high_volume_concurrent"]
    assert not any(judges(s, False) for s in REALESTATE.scenarios)  # judged on request only


def test_pipeline_judge_flag_with_a_config_naming_a_bad_rubric_is_one_line(tmp_path):
    config = write(tmp_path / "judge.yaml", "judge: {rubric: no-such-rubric}\n")
    ran = invoke("pipeline", "--judge", "-f", str(config), "--runs-dir", str(tmp_path / "runs"))
    assert ran.returncode == 2
    assert "no-such-rubric" in error_line(ran)


@pytest.mark.e2e
@pytest.mark.slow
def test_the_realestate_suite_is_judged_by_default_and_no_judge_turns_it_off(tmp_path):
    scenarios = write(
        tmp_path / "s.yaml",
        "- {name: one_booking, conversations: 1, personas: [renata]}\n"
        "- {name: bad_input, conversations: 1, success: graceful, scripts: [['']]}\n",
    )

    def pipeline(*flags: str) -> dict:
        args = ("--scenarios", str(scenarios), "--listings", "1000", "--runs-dir", str(tmp_path), "--json")
        ran = invoke("pipeline", *args, *flags)
        assert ran.returncode == 0, ran.stderr
        return json.loads(ran.stdout)

    judged = pipeline()
    booking, bad = judged["scenarios"]
    assert booking["integration"]["judge"] == 1.0 and booking["judgement"]["rubrics"] == ["realestate"]
    # An empty message gets no reply to judge: the judge's failure is no metric, only a recommendation.
    assert "judge" not in bad["integration"] and bad["judgement"]["judge_errors"] == 1
    assert any(
        line.startswith("judge: 1 of 1 conversations could not be judged") for line in bad["recommendations"]
    )
    assert judged["overall"]["integration"]["judge"] == 1.0
    plain = pipeline("--no-judge")
    assert all("judge" not in s["integration"] and "judgement" not in s for s in plain["scenarios"])
    assert "judge" not in plain["overall"]["integration"]
