"""`convoload export`: a recorded conversation as a fixed user's config (run with `convoload run -f`) and
as a pytest file (run with pytest in a process of its own), against the bundled ticket agent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from convoload.personas import resolve_personas
from tests.helpers import invoke, run_dirs, write
from tests.rerun.helpers import by_persona, messages, records, tickets_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tickets_run(tmp_path_factory.mktemp("tickets"))


def _pytest(test_file: Path) -> subprocess.CompletedProcess[str]:
    # gevent must patch ssl before pytest's other plugins import it: the `-p` plugin the file names.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, "-p", "convoload.testing.patched", str(test_file)],
        capture_output=True,
        text=True,
        cwd=test_file.parent,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )


def _run_fixed(config: Path, runs: Path) -> tuple[int, list]:
    ran = invoke("run", "-f", str(config), "--runs-dir", str(runs), "--fail-under", "100")
    assert ran.returncode in (0, 1), ran.stderr[-3000:]
    (run_dir,) = run_dirs(runs)
    return ran.returncode, records(run_dir)


def test_a_conversation_that_reached_its_goal_exports_to_passing_tests(tickets, tmp_path):
    kataryna = by_persona(tickets)["Kataryna"]
    out = tmp_path / "kataryna.yaml"
    ran = invoke(
        "export", str(tickets), "--session", kataryna.session_id[:8], "--as", "fixed", "-o", str(out)
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"convoload run -f {out}" in ran.stdout
    exported = yaml.safe_load(out.read_text())
    assert exported["user"] == {"type": "fixed", "scripts": [messages(kataryna)]}
    assert exported["personas"] == ["Kataryna"] and exported["run"]["seed"] == 7
    assert exported["target"]["type"] == "demo" and exported["target"]["demo"]["agent"] == "tickets"
    assert "runs_dir" not in exported["run"] and "store" not in exported

    code, (replayed,) = _run_fixed(out, tmp_path / "runs")
    assert code == 0 and replayed.goal_reached and messages(replayed) == messages(kataryna)

    test_file = tmp_path / "suite" / "test_kataryna.py"
    ran = invoke("export", kataryna.run_id, "--runs-dir", str(tickets.parent), "-s", kataryna.session_id)
    assert ran.returncode == 2  # --as is required
    args = ["export", kataryna.run_id, "--runs-dir", str(tickets.parent), "-s", kataryna.session_id]
    ran = invoke(*args, "--as", "pytest", "-o", str(test_file))
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = _pytest(test_file)
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout[-3000:] + result.stderr


def test_a_failed_conversation_exports_to_failing_tests_that_show_the_transcript(tickets, tmp_path):
    talliz = by_persona(tickets)["Talliz"]
    out = tmp_path / "talliz.yaml"
    assert (
        invoke("export", str(tickets), "-s", talliz.session_id, "--as", "fixed", "-o", str(out)).returncode
        == 0
    )
    code, (replayed,) = _run_fixed(out, tmp_path / "runs")
    assert code == 1 and not replayed.goal_reached and messages(replayed) == messages(talliz)

    test_file = tmp_path / "test_talliz.py"
    assert (
        invoke(
            "export", str(tickets), "-s", talliz.session_id, "--as", "pytest", "-o", str(test_file)
        ).returncode
        == 0
    )
    result = _pytest(test_file)
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout[-3000:] + result.stderr
    assert "outcome max_iterations" in result.stdout and messages(talliz)[-1].splitlines()[0] in result.stdout


def test_a_persona_of_its_own_goes_with_the_export(tmp_path):
    (kataryna,) = resolve_personas(["kataryna"])
    mine = kataryna.model_dump(mode="json") | {"name": "Kat Own", "playbook": "tickets"}
    persona_file = write(tmp_path / "personas" / "kat.yaml", yaml.safe_dump(mine, allow_unicode=True))
    config = write(
        tmp_path / "own.yaml",
        f"""
run: {{conversations: 1, concurrency: 1, seed: 3}}
personas: [{persona_file}]
target: {{type: demo, demo: {{agent: tickets, reply_delay_s: 0, jitter_s: 0}}}}
""",
    )
    assert invoke("run", "-f", str(config), "--runs-dir", str(tmp_path / "runs")).returncode == 0
    (run_dir,) = run_dirs(tmp_path / "runs")
    (record,) = records(run_dir)
    persona_file.unlink()  # the export does not need the file the run read

    out = tmp_path / "out" / "own.yaml"
    ran = invoke("export", str(run_dir), "-s", record.session_id, "--as", "fixed", "-o", str(out))
    assert ran.returncode == 0, ran.stderr[-3000:]
    sidecar = out.with_name("own.persona.yaml")
    assert yaml.safe_load(out.read_text())["personas"] == [sidecar.name]
    assert yaml.safe_load(sidecar.read_text())["name"] == "Kat Own"
    code, (replayed,) = _run_fixed(out, tmp_path / "again")
    assert code == 0 and replayed.persona == "Kat Own" and replayed.goal_reached

    test_file = tmp_path / "out" / "test_own.py"
    ran = invoke("export", str(run_dir), "-s", record.session_id, "--as", "pytest", "-o", str(test_file))
    assert ran.returncode == 0 and "PERSONA = " in test_file.read_text()
    result = _pytest(test_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
