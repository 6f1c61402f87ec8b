"""The SLO grammar, the step series, the capacity settings from config and flags, and their errors."""

import pytest

from convoload.config import Config, load_config
from convoload.errors import ConfigError
from convoload.model.capacity import SloOp, parse_slo, parse_steps, step_series
from tests.helpers import write


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("goal_rate>=0.85", "goal_rate", SloOp.GE, 0.85),
        (" p95_turn_s <= 8 ", "p95_turn_s", SloOp.LE, 8.0),
        ("error_rate<.05", "error_rate", SloOp.LT, 0.05),
        ("cost_per_success_usd>1e-3", "cost_per_success_usd", SloOp.GT, 0.001),
    ],
)
def test_an_slo_is_metric_operator_number(text, metric, op, threshold):
    slo = parse_slo(text)
    assert (slo.metric, slo.op, slo.threshold) == (metric, op, threshold)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("goal_rat>=0.85", "unknown SLO metric 'goal_rat'"),
        ("goal_rate=>0.85", "is not METRIC OP NUMBER"),
        ("goal_rate==0.85", "is not METRIC OP NUMBER"),
        ("goal_rate>=high", "is not METRIC OP NUMBER"),
        ("p95_turn_s<=8s", "is not METRIC OP NUMBER"),
        ("", "is not METRIC OP NUMBER"),
    ],
)
def test_a_bad_slo_says_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        parse_slo(text)


def test_an_slo_holds_by_its_operator_and_never_without_data():
    assert parse_slo("goal_rate>=0.85").holds(0.85)
    assert not parse_slo("goal_rate>0.85").holds(0.85)
    assert parse_slo("p95_turn_s<8").holds(7.9)
    assert not parse_slo("p95_turn_s<=8").holds(8.01)
    assert not parse_slo("p95_turn_s<=8").holds(None)
    assert not parse_slo("p95_turn_s<=8").holds(float("nan"))


def test_the_series_doubles_up_to_max_users():
    assert step_series(1, 32) == [1, 2, 4, 8, 16, 32]
    assert step_series(5, 80) == [5, 10, 20, 40, 80]
    assert step_series(1, 10) == [1, 2, 4, 8, 10]  # the maximum always ends it
    assert step_series(3, 3) == [3]
    with pytest.raises(ValueError, match="below the first step"):
        step_series(8, 4)


def test_steps_must_grow():
    assert parse_steps("5,10,20,40,80") == [5, 10, 20, 40, 80]
    with pytest.raises(ValueError, match="steps must grow: 10 after 10"):
        parse_steps("5,10,10")
    with pytest.raises(ValueError, match="comma-separated"):
        parse_steps("5,ten")
    with pytest.raises(ValueError, match="at least one step"):
        parse_steps(",")


def test_the_config_section_is_checked_naming_the_field(tmp_path):
    bad = write(tmp_path / "c.yaml", "capacity:\n  slos: ['p95_turn_s<=8', 'goal>=1']\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: capacity\.slos: unknown SLO metric 'goal'"):
        load_config(bad)
    bad = write(tmp_path / "d.yaml", "capacity:\n  steps: [4, 2]\n")
    with pytest.raises(ConfigError, match=r"capacity\.steps: steps must grow"):
        load_config(bad)
    bad = write(tmp_path / "e.yaml", "capacity:\n  step_duration_s: 0\n")
    with pytest.raises(ConfigError, match=r"capacity\.step_duration_s"):
        load_config(bad)


def test_flags_win_over_the_config_and_errors_name_them():
    from convoload.knee.plan import resolve_plan

    config = Config.model_validate({"capacity": {"steps": [2, 4], "slos": ["goal_rate>=0.9"]}})
    plan = resolve_plan(config)
    assert plan.steps == [2, 4] and [s.text for s in plan.slos] == ["goal_rate>=0.9"]
    flags = {"slos": "--slo", "steps": "--steps", "max_users": "--max-users", "warm_up_s": "--warm-up"}
    plan = resolve_plan(config, max_users=8, slos=["p95_turn_s<=2"], abort=False, flags=flags)
    assert plan.steps == [1, 2, 4, 8] and plan.slos[0].text == "p95_turn_s<=2" and not plan.abort
    with pytest.raises(ConfigError, match=r"^--slo: unknown SLO metric 'p96_turn_s'"):
        resolve_plan(config, slos=["p96_turn_s<=2"], flags=flags)
    with pytest.raises(ConfigError, match=r"^--warm-up: must be at least 0 s"):
        resolve_plan(config, warm_up_s=-1, flags=flags)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--slo", "goal_rate=>0.85"], "error: --slo: 'goal_rate=>0.85' is not METRIC OP NUMBER"),
        (["--slo", "latency<=8"], "error: --slo: unknown SLO metric 'latency'"),
        (["--steps", "4,2"], "error: --steps: steps must grow: 2 after 4"),
        (["--max-users", "0"], "error: --max-users: "),
        (["--url", "http://127.0.0.1:9", "--agent-max-turns", "2"], "error: --agent-max-turns: "),
    ],
)
def test_the_command_refuses_bad_input_in_one_line_exit_2(args, says, capsys, monkeypatch):
    from convoload.cli import main

    monkeypatch.setattr("sys.argv", ["convoload", "capacity", "--agent", "tickets", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith(says) and err.count("\n") == 1, err


def test_help_names_the_flags_and_the_metrics():
    from tests.helpers import invoke

    ran = invoke("capacity", "--help")
    assert ran.returncode == 0
    for flag in (
        "--steps",
        "--max-users",
        "--step-duration",
        "--warm-up",
        "--slo",
        "--abort-after",
        "--no-abort",
    ):
        assert flag in ran.stdout, flag
    assert "p95_turn_s" in ran.stdout and "goal_rate" in ran.stdout
