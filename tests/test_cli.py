"""The `convoload` command as a user runs it: through its real main(), in this process unless the test
is about processes (Locust workers)."""

import csv
import json
from pathlib import Path

import pytest
from validate_docbr import CPF

from convoload.config import load_config
from convoload.personas import resolve_personas
from tests.helpers import REPO, invoke, run_dirs, spawn


def cli(*args, cwd=None):
    """`convoload ARGS`, away from any results database the shell running the tests names."""
    return invoke(*args, cwd=cwd, env={"CONVOLOAD_DB_URL": None})


@pytest.mark.e2e
def test_demo_then_report(tmp_path):
    result = cli(
        "demo",
        "--agent",
        "tickets",
        "-q",
        "--reply-delay",
        "0.01",
        "--seed",
        "9",
        "--runs-dir",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "3 (100.00%)" in result.stdout
    (run_dir,) = run_dirs(tmp_path)
    assert f"records: {run_dir}" in result.stdout.replace("\n", "")
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert sorted(aggregate["personas"]) == ["Edman", "Kataryna", "Talliz"]
    assert aggregate["run"]["seed"] == 9
    with open(run_dir / "conversations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["persona"] for r in rows) == ["Edman", "Kataryna", "Talliz"]
    assert all(r["goal_reached"] == "True" and int(r["iterations"]) > 0 for r in rows)
    html = (run_dir / "report.html").read_text()
    assert html.count('data-chart="') >= 6 and html.count("<details data-session=") == 3

    report = cli("report", str(run_dir), "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["summary"] == aggregate["summary"]

    missing = cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "not a convoload run folder" in missing.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_real_estate_demo_books_a_visit_for_every_persona(tmp_path):
    result = cli(
        "demo", "--agent", "realestate", "--listings", "2000", "--seed", "4", "--runs-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr + result.stdout[-3000:]
    (run_dir,) = run_dirs(tmp_path)
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    summary = aggregate["summary"]
    assert sorted(aggregate["personas"]) == ["Helena", "Júlia", "Marcus", "Renata", "Ricardo"]
    assert summary["successful_conversations"] == 5 and summary["agent_changes"] >= 15
    assert "Visita agendada! Código VIS-" in result.stdout and "Visit booked! Code VIS-" in result.stdout
    agents = {
        t["agent"] for p in (run_dir / "conversations").iterdir() for t in json.loads(p.read_text())["turns"]
    }
    assert {"triagem", "busca", "imovel", "agendamento"} <= agents


def test_identities_command():
    result = cli("identities", "-n", "3", "--seed", "4")
    people = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(people) == 3 and all(CPF().validate(p["cpf"]) for p in people)
    assert people == [
        json.loads(line) for line in cli("identities", "-n", "3", "--seed", "4").stdout.splitlines()
    ]


def test_locustfile_and_personas_commands():
    path = Path(cli("locustfile").stdout.strip())
    assert path.name == "locustfile.py" and path.is_file()
    listing = cli("personas", "list").stdout
    assert all(name in listing for name in ("Kataryna", "Talliz", "Edman", "Renata", "Marcus"))
    shown = cli("personas", "show", "talliz").stdout
    assert "alternative_date: 21/11" in shown
    checked = cli("personas", "check", *map(str, sorted((REPO / "examples" / "personas").iterdir())))
    assert checked.returncode == 0 and checked.stdout.count("\nok  ") + checked.stdout.startswith("ok  ") == 2


@pytest.mark.parametrize(
    "command",
    [
        "demo",
        "run",
        "converse",
        "report",
        "locustfile",
        "serve-demo",
        "identities",
        "personas",
        "personas check",
    ],
)
def test_every_command_has_help(command):
    result = cli(*command.split(), "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout and len(result.stdout) > 200


def test_example_configs_are_valid(monkeypatch):
    monkeypatch.setenv("CHAT_API_TOKEN", "t0ken-for-validation")
    monkeypatch.setenv("CHAT_CHANNEL_ID", "channel")
    from convoload.monitor.config import load_monitor_config

    for path in sorted((REPO / "examples").glob("*.yaml")):
        if path.name.startswith("monitor"):
            assert load_monitor_config(path).schedule.collect.every_s > 0
            continue
        config = load_config(path)
        assert resolve_personas(config.personas, config.base_dir, str(path))


@pytest.mark.e2e
def test_flags_replace_the_target(tmp_path, local_app):
    app = local_app(lambda environ, body: (200, {"reply": "ok, o link é https://pay.example.com/pix/1"}))
    result = cli(
        "run", "--url", f"{app.url}/chat", "-n", "2", "--runs-dir", str(tmp_path), "--personas", "edman"
    )
    assert result.returncode == 0, result.stderr
    assert "2 (100.00%)" in result.stdout and "Edman" in result.stdout
    bad = cli("run", "--url", "ftp://nowhere", "-n", "1")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: --url: must start with http:// or https:// (got 'ftp://nowhere')"
    )


@pytest.mark.e2e
def test_grade_floor_gates_a_run(tmp_path, local_app):
    app = local_app(lambda environ, body: (500, {"error": "down"}))
    failing = cli(
        "run", "--url", f"{app.url}/chat", "-n", "2", "--runs-dir", str(tmp_path), "--grade-floor", "C"
    )
    assert failing.returncode == 1 and "grade D is below the floor C" in failing.stderr
    aggregate = json.loads(run_dirs(tmp_path)[0].joinpath("aggregate.json").read_text())
    assert aggregate["assessment"]["grade"] == "D" and aggregate["assessment"]["health"] == "critical"
    assert aggregate["assessment"]["recommendations"][0].startswith("2 turns got HTTP errors")
    invalid = cli("run", "--url", f"{app.url}/chat", "-n", "1", "--grade-floor", "Z")
    assert invalid.returncode == 2 and "unknown grade 'Z'" in invalid.stderr and not app.requests[2:]


@pytest.mark.e2e
@pytest.mark.slow
def test_stress_command(tmp_path):
    result = cli(
        "stress",
        "--agent",
        "tickets",
        "--users",
        "2",
        "--duration",
        "2",
        "--runs-dir",
        str(tmp_path),
        "--seed",
        "3",
    )
    assert result.returncode == 0, result.stderr
    aggregate = json.loads(run_dirs(tmp_path)[0].joinpath("aggregate.json").read_text())
    summary = aggregate["summary"]
    assert summary["total_conversations"] >= 2 and summary["interrupted_conversations"] == 0
    assert "2 users for 2 s (steady)" in result.stdout.replace("\n", " ")
    bad = cli("stress", "--profile", "wave")
    assert bad.returncode == 2 and "'wave' is not one of steady, ramp, spike" in bad.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_pipeline_command_with_a_scenario_file(tmp_path):
    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(
        "- {name: one_booking, conversations: 1, personas: [renata]}\n"
        "- {name: bad_input, conversations: 1, success: graceful, scripts: [['']]}\n"
    )
    result = cli(
        "pipeline",
        "--scenarios",
        str(scenarios),
        "--listings",
        "1000",
        "--runs-dir",
        str(tmp_path),
        "--grade-floor",
        "A",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [s["name"] for s in document["scenarios"]] == ["one_booking", "bad_input"]
    assert document["overall"]["success_rate"] == 1.0 and document["overall"]["system_healthy_after"]
    bad = cli("pipeline", "--grade-floor", "S")
    assert bad.returncode == 2 and "unknown grade 'S'" in bad.stderr


@pytest.mark.e2e
def test_serve_faulty_rejects_a_malformed_fault_in_one_line(tmp_path):
    # The real entry point: only its stderr shows that nothing but the one line gets out (and a server
    # that took the fault would serve until the timeout instead of hanging the test).
    result = spawn("serve-faulty", "--fault", "status,every=x", "--port", "0", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --fault: every: Input should be a valid integer, unable to parse string as an integer"
    ]


@pytest.mark.e2e
@pytest.mark.slow
def test_run_on_two_locust_workers_merges_their_numbers(tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "run: {conversations: 4, concurrency: 2, seed: 5}\n"
        "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0.01, jitter_s: 0}}\n",
        encoding="utf-8",
    )
    result = spawn(
        "run", "-f", str(config), "--workers", "2", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path,
        env={"CONVOLOAD_DB_URL": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = run_dirs(tmp_path / "runs")
    document = json.loads((run / "aggregate.json").read_text())
    assert document["summary"]["total_conversations"] == 4
    journals = sorted(run.glob("worker-*/**/journal.jsonl"))
    assert len(journals) == 2
    assert sum(len(p.read_text().splitlines()) for p in journals) == 4
    refused = cli("run", "--url", "http://127.0.0.1:9/chat", "--workers", "2", cwd=tmp_path)
    assert refused.returncode == 2 and "error: --workers:" in refused.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_a_real_estate_run_books_more_visits_than_a_calendar_holds(tmp_path):
    # Every Marcus asks for the same flat on Monday at 9: the assistant offers 6 days of 9 slots, so
    # without the bundled catalog's sandbox release the 55th conversation would find no time left.
    config = tmp_path / "marcus.yaml"
    config.write_text("target: {type: demo, demo: {agent: realestate, listings: 1000}}\npersonas: [marcus]\n")
    result = cli("run", "-f", str(config), "-n", "80", "-c", "4", "--seed", "2", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    summary = json.loads(run_dirs(tmp_path)[0].joinpath("aggregate.json").read_text())["summary"]
    assert summary["total_conversations"] == 80 and summary["successful_conversations"] == 80


@pytest.mark.e2e
def test_in_process_commands_answer_as_the_real_entry_point_does(tmp_path):
    """The in-process tests stand for the console script: the same input gets the same exit code and the
    same stdout and stderr from both, for refusals of flags, of a config file and of a missing run."""
    config = tmp_path / "bad.yaml"
    config.write_text("run: {concurrency: 0}\n", encoding="utf-8")
    for args in (
        ["run", "--url", "ftp://nowhere", "-n", "1"],
        ["run", "--conversations", "many"],
        ["run", "-f", str(config)],
        ["report", str(tmp_path / "nope")],
        ["identities", "-n", "2", "--seed", "1"],
    ):
        here = cli(*args, cwd=tmp_path)
        there = spawn(*args, cwd=tmp_path, env={"CONVOLOAD_DB_URL": ""}, timeout=60)
        assert (here.returncode, here.stdout, here.stderr) == (
            there.returncode,
            there.stdout,
            there.stderr,
        ), args
