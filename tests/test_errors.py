"""One exception tree under ConvoloadError: as errors.py documents it, joined by every module's errors."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import convoload
from convoload import errors
from convoload.errors import ConfigError, ConvoloadError, InputError, RunNotFound, StoreError
from convoload.model import ErrorKind
from convoload.monitor.alerts.channels import ChannelError
from convoload.store.results import ResultsStore
from convoload.targets.base import TargetError
from convoload.users.base import UserFailure
from tests.helpers import error_line, invoke

# Exception classes that deliberately stay outside the tree, by module prefix, with the reason.
OUTSIDE_THE_TREE = {
    # The bundled systems under test (issue 15 moves them to their own package): their errors are the
    # demo agents' own, raised and handled inside those servers, as a third party's would be.
    "convoload_demo.": "the demo agents' own errors, not convoload's",
}

_LINE = re.compile(r"^    (?P<branches>[│├└─ ]*)(?P<name>\w+)\s+.*\[(?P<module>[\w.]+)\](?P<also>( \+\w+)*)$")


@dataclass(frozen=True)
class Documented:
    name: str
    parent: str | None
    module: str
    also: tuple[str, ...]


def documented_tree() -> list[Documented]:
    """The tree drawn at the top of errors.py, line by line: name, parent, module, second bases."""
    doc = errors.__doc__ or ""
    rows = [m for line in doc.splitlines() if (m := _LINE.match(line))]
    assert rows and rows[0]["name"] == "ConvoloadError", doc
    parents: list[str] = []  # the open branch at each depth
    tree = []
    for m in rows:
        depth = len(m["branches"]) // 4  # each level is 4 characters wide: "│   " or "├── "
        assert depth <= len(parents), f"{m['name']} is indented deeper than its parent"
        del parents[depth:]
        also = tuple(name.lstrip("+") for name in m["also"].split())
        tree.append(Documented(m["name"], parents[-1] if parents else None, m["module"], also))
        parents.append(m["name"])
    return tree


def _resolve(name: str, module: str) -> type[BaseException]:
    """A documented name as a class (a built-in for a second base like ValueError)."""
    if hasattr(builtins, name):
        return getattr(builtins, name)
    return getattr(importlib.import_module(f"convoload.{module}"), name)


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in convoload, by `module.Name`, found by importing every module."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(convoload.__path__, "convoload."):
        if info.name.endswith("__main__"):  # running the CLI is not importing it
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name:
                found[f"{info.name}.{name}"] = obj
    return found


TREE = documented_tree()
MODULES = {node.name: node.module for node in TREE}
CLASSES = exception_classes()
IN_THE_TREE = {
    qualified: cls
    for qualified, cls in CLASSES.items()
    if not any(qualified.startswith(prefix) for prefix in OUTSIDE_THE_TREE)
}


@pytest.mark.parametrize("node", TREE, ids=lambda node: node.name)
def test_the_tree_is_as_documented(node: Documented) -> None:
    cls = _resolve(node.name, node.module)
    assert cls.__module__ == f"convoload.{node.module}", f"{node.name} lives in {cls.__module__}"
    parent = Exception if node.parent is None else _resolve(node.parent, MODULES[node.parent])
    assert cls.__bases__[0] is parent, f"{node.name}'s first base is {cls.__bases__[0].__name__}"
    also = {_resolve(other, MODULES.get(other, "")) for other in node.also}
    assert set(cls.__bases__[1:]) == also, f"{node.name}'s other bases are not all documented"


def test_every_exception_class_descends_from_convoload_error() -> None:
    assert len(IN_THE_TREE) >= len(TREE)  # the walk found the modules (a broken walk finds nothing)
    strays = [name for name, cls in IN_THE_TREE.items() if not issubclass(cls, ConvoloadError)]
    assert strays == [], f"join the tree in errors.py (or list in OUTSIDE_THE_TREE with a reason): {strays}"


def test_every_public_exception_class_is_documented() -> None:
    documented = {f"convoload.{node.module}.{node.name}" for node in TREE}
    public = {name for name in IN_THE_TREE if not name.rsplit(".", 1)[1].startswith("_")}
    assert public - documented == set(), "add them to the tree at the top of errors.py"
    assert documented - set(CLASSES) == set(), "documented but not defined there"


def test_only_the_input_branch_means_bad_input() -> None:
    """cli.main() and Locust's setup turn InputError into exit 2: a fault of a turn must never be one."""
    inputs: set[str] = set()
    for node in TREE:  # parents come before their children
        if node.name == "InputError" or node.parent in inputs:
            inputs.add(node.name)
    for node in TREE:
        cls = _resolve(node.name, node.module)
        assert issubclass(cls, InputError) == (node.name in inputs), node.name
    for fault in ("TargetError", "UserFailure", "ProviderError", "LLMUnavailable", "ChannelError"):
        assert fault not in inputs


@pytest.mark.parametrize(
    "fault",
    [
        TargetError(ErrorKind.TIMEOUT, "slow"),
        UserFailure(ErrorKind.USER, "no words"),
        ChannelError("refused"),
    ],
    ids=lambda fault: type(fault).__name__,
)
def test_main_does_not_report_a_fault_as_bad_input(
    fault: ConvoloadError, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No command lets a fault escape today; if one ever does, it is a crash to fix, not 'error:', exit 2."""
    from convoload import cli

    def command(**_: object) -> None:  # stands in for the Typer app: no real command lets one escape
        raise fault

    monkeypatch.setattr(cli, "app", command)
    monkeypatch.setattr(sys, "argv", ["convoload", "run"])
    with pytest.raises(type(fault)):
        cli.main()
    assert "error:" not in capsys.readouterr().err


def test_main_exits_130_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    """Click turns Ctrl-C into Abort; main() must name Abort where this typer keeps it (it vendors click)."""
    import typer

    from convoload import cli

    def command(**_: object) -> None:  # stands in for the Typer app interrupted mid-command
        raise typer.Abort()

    monkeypatch.setattr(cli, "app", command)
    result = invoke("run")
    assert result.returncode == 130 and "Traceback" not in result.stderr


# -- RunNotFound -------------------------------------------------------------------------------------


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    with ResultsStore(url) as store:
        store.start_run("a1b2-base", {})
        store.start_run("c3d4-next", {})
        store.start_run("c3e5-fast", {})
    return url


def test_the_store_raises_run_not_found(store_url: str) -> None:
    with ResultsStore(store_url, create=False) as store:
        assert store.get_run("zz") is None  # get_run asks; require_run and the readers insist
        for lookup in (
            lambda: store.require_run("zz"),
            lambda: store.conversations("zz"),
            lambda: store.compare("a1b2", "zz"),
            lambda: store.finish_run("zz", {}),
        ):
            with pytest.raises(RunNotFound) as missing:
                lookup()
            assert missing.value.run_id == "zz"
            assert isinstance(missing.value, StoreError) and isinstance(missing.value, ConfigError)
            assert str(missing.value) == f"run 'zz': not found in {store.url}"
        with pytest.raises(ConfigError, match="ambiguous") as ambiguous:  # a prefix of two runs: not missing
            store.require_run("c3")
        assert not isinstance(ambiguous.value, RunNotFound)


@pytest.mark.parametrize("args", [["runs", "show", "nope"], ["runs", "compare", "a1b2", "nope"]])
def test_runs_show_and_compare_of_a_missing_run_is_one_line_exit_2(store_url: str, args: list[str]) -> None:
    line = error_line(invoke(*args, "--db", store_url))
    assert line.startswith("run 'nope': not found in sqlite:///"), line
