"""A run raises its process's open-files limit to what its conversations at once need, and refuses, in one
line naming the field, a run the hard limit cannot hold. In child processes: limits are per process."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from convoload.load.openfiles import RESERVE, descriptors_needed

pytestmark = pytest.mark.e2e


def _python(code: str, cwd: Path, *, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    """`code` in a child Python; `unprivileged`: without CAP_SYS_RESOURCE (lets root lift a hard limit)."""
    drop = ["setpriv", "--inh-caps=-sys_resource", "--bounding-set=-sys_resource"] if unprivileged else []
    argv = [*drop, sys.executable, "-c", code]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120)


def _can_drop_capabilities() -> bool:
    return shutil.which("setpriv") is not None


def test_descriptors_per_conversation() -> None:
    assert descriptors_needed(10_000, callbacks=True) == RESERVE + 20_000  # client + callback connection
    assert descriptors_needed(10_000, callbacks=False) == RESERVE + 10_000


def test_the_soft_limit_is_raised_as_far_as_needed(tmp_path: Path) -> None:
    done = _python(
        "import resource\n"
        "from convoload.load.openfiles import ensure_open_files\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (300, 20_000))\n"
        "print(ensure_open_files(1000, callbacks=True, source='s', field='f'), "
        "resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(ensure_open_files(10, callbacks=True, source='s', field='f'))\n",  # never lowered
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(RESERVE + 2000)] * 2 + [str(RESERVE + 2000)]


@pytest.mark.skipif(not _can_drop_capabilities(), reason="needs util-linux's setpriv")
def test_a_run_beyond_the_hard_limit_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    # The real entry point, with a hard limit a run of 2,000 webhook conversations at once cannot fit in.
    done = _python(
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))\n"
        "from convoload.cli import main\n"
        "sys.argv = ['convoload', 'run', '-n', '2000', '-c', '2000', '--runs-dir', 'runs']\n"
        "main()\n",
        tmp_path,
        unprivileged=True,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "run.concurrency" in lines[0] and f"at least {RESERVE + 2000:,} open files" in lines[0]
    assert "at most 1,024" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.skipif(not _can_drop_capabilities(), reason="needs util-linux's setpriv")
def test_a_stress_test_names_its_users(tmp_path: Path) -> None:
    done = _python(
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))\n"
        "from convoload.cli import main\n"
        "sys.argv = ['convoload', 'stress', '--users', '5000', '--duration', '5', '--runs-dir', 'runs']\n"
        "main()\n",
        tmp_path,
        unprivileged=True,
    )
    assert done.returncode == 2, done.stderr
    assert "--users" in done.stderr and "5,000 conversations at once" in done.stderr


def _may_lift_hard_limit() -> bool:
    """Whether a process here may raise its hard open-files limit (CAP_SYS_RESOURCE; often dropped)."""
    probe = (
        "import resource as r; s, h = r.getrlimit(r.RLIMIT_NOFILE); r.setrlimit(r.RLIMIT_NOFILE, (s, h + 1))"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(
    not _may_lift_hard_limit(), reason="no CAP_SYS_RESOURCE here: a hard limit cannot be lifted"
)
def test_a_privileged_process_lifts_its_hard_limit_too(tmp_path: Path) -> None:
    done = _python(
        "import resource\n"
        "from convoload.load.openfiles import ensure_open_files\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 1024))\n"
        "ensure_open_files(10_000, callbacks=True, source='s', field='f')\n"
        "print(*resource.getrlimit(resource.RLIMIT_NOFILE))\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(RESERVE + 20_000)] * 2


@pytest.mark.skipif(not _can_drop_capabilities(), reason="needs util-linux's setpriv")
def test_a_limit_between_the_sure_and_the_most_is_raised_as_far_as_it_goes(tmp_path: Path) -> None:
    """Client connections fit, one callback connection per conversation would not: the run goes on with
    the hard limit, and says what could fail."""
    done = _python(
        "import logging, resource\n"
        "logging.basicConfig(format='%(message)s')\n"
        "from convoload.load.openfiles import ensure_open_files\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 3000))\n"
        "print(ensure_open_files(2000, callbacks=True, source='s', field='f'))\n",
        tmp_path,
        unprivileged=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3000"]
    assert "may need up to 4,256" in done.stderr and "may open 3,000" in done.stderr
