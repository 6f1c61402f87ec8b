"""The package's boundaries, read from the source: no import cycles between convoload's parts,
nothing of the demo pack inside convoload, and a dependency-free `convoload.model`.

Imports are read from the AST of every module under src/convoload, wherever they are written: at the
top, inside functions (lazy imports) and under `if TYPE_CHECKING:` all count, since each of them is
a dependency someone reading or moving the code has to know about. A "part" is a first-level
subpackage (`convoload.conversation`) or a top-level module (`convoload.config`); `convoload` itself
(its `__init__`) is a part too. Imports by computed name (importlib) are not seen here, which is why
the demo pack's name is also searched as plain text.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "convoload"
DEMO_PACK = "convoload_demo"
MODEL_MAY_IMPORT = {"pydantic", "pydantic_core"}  # besides the standard library and itself


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. convoload.targets.base
    path: Path
    line: int
    target: str  # the module imported (absolute), e.g. convoload.model.records

    def where(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line} ({self.module} imports {self.target})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[Import]:
    """Every import statement in the file, anywhere in it, as absolute module names."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from convoload import plugins` imports the module convoload.plugins.
            submodules = (f"{source}.{alias.name}" for alias in node.names)
            targets = dict.fromkeys(name if _is_module(name) else source for name in submodules)
            yield from (Import(module, path, node.lineno, target) for target in targets)


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def part(module: str) -> str:
    """convoload.targets.webhook -> convoload.targets; convoload.config -> convoload.config."""
    return ".".join(module.split(".")[:2])


Graph = dict[str, dict[str, Import]]  # node -> {node it imports: the first import that does so}
Cycle = list[tuple[str, Import]]  # (node, the import that leads from it to the next node)


def import_graph(imports: list[Import], node: Callable[[str], str]) -> Graph:
    """The imports between convoload's modules, each module mapped to its `node` (part or itself)."""
    graph: Graph = {}
    for imp in imports:
        if imp.target != "convoload" and not imp.target.startswith("convoload."):
            continue
        source, target = node(imp.module), node(imp.target)
        if source != target:
            graph.setdefault(source, {}).setdefault(target, imp)
    return graph


def find_cycle(graph: Graph) -> Cycle | None:
    """One shortest cycle of the graph; None when there is none."""
    best: Cycle | None = None
    for start in sorted(graph):
        # Breadth-first from `start` back to itself: the shortest cycle through it.
        came_from: dict[str, tuple[str, Import]] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt, imp in sorted(graph.get(node, {}).items()):
                if nxt == start:
                    cycle = [(node, imp)]
                    while node != start:
                        node, imp = came_from[node]
                        cycle.append((node, imp))
                    cycle.reverse()
                    if best is None or len(cycle) < len(best):
                        best = cycle
                    queue.clear()
                    break
                if nxt not in came_from:
                    came_from[nxt] = (node, imp)
                    queue.append(nxt)
    return best


def describe(cycle: Cycle) -> str:
    nodes = [node for node, _ in cycle] + [cycle[0][0]]
    return "\n".join([" -> ".join(nodes), *(f"  {imp.where()}" for _, imp in cycle)])


def test_the_parts_of_convoload_import_each_other_without_cycles() -> None:
    cycle = find_cycle(import_graph(all_imports(), part))
    if cycle is not None:
        pytest.fail(f"import cycle between parts (break one of these):\n{describe(cycle)}", pytrace=False)


def test_no_module_imports_one_that_imports_it_back() -> None:
    """Within a part too: e.g. llm.types naming llm.chain's Fallback while llm.chain imports llm.types."""
    cycle = find_cycle(import_graph(all_imports(), lambda module: module))
    if cycle is not None:
        pytest.fail(f"import cycle between modules (break one of these):\n{describe(cycle)}", pytrace=False)


def test_convoload_never_imports_the_demo_pack() -> None:
    offenders = [imp.where() for imp in all_imports() if imp.target.split(".")[0] == DEMO_PACK]
    if offenders:
        listing = "\n".join(offenders)
        pytest.fail(f"convoload imports the demo pack (use a registry):\n{listing}", pytrace=False)


def test_convoload_does_not_even_name_the_demo_pack() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary data names no module
        offenders += [
            f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if DEMO_PACK in line
        ]
    if offenders:
        listing = "\n".join(offenders)
        pytest.fail(f"convoload names {DEMO_PACK} (in a `python -m` string?):\n{listing}", pytrace=False)


def model_offenders() -> list[str]:
    """The imports in convoload.model of anything but itself, pydantic and the standard library."""
    offenders = []
    for path in sorted((PACKAGE / "model").rglob("*.py")):
        for imp in imports_of(path):
            top = imp.target.split(".")[0]
            if imp.target == "convoload.model" or imp.target.startswith("convoload.model."):
                continue
            if top in sys.stdlib_module_names or top in MODEL_MAY_IMPORT:
                continue
            offenders.append(imp.where())
    return offenders


def test_the_model_depends_on_nothing_but_itself_pydantic_and_the_standard_library() -> None:
    assert (PACKAGE / "model" / "records.py").is_file()  # the check below reads real files
    offenders = model_offenders()
    assert not offenders, "convoload.model imports outside itself:\n" + "\n".join(offenders)


# The checks above are only as good as the import reader and the cycle finder: they are tried here
# on small trees whose answers are known.


def _graph(edges: str) -> Graph:
    graph: Graph = {}
    for number, edge in enumerate(edges.split(), start=1):
        source, target = (f"convoload.{name}" for name in edge.split(">"))
        graph.setdefault(source, {})[target] = Import(source, PACKAGE / "x.py", number, target)
    return graph


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ("a>b b>c", None),
        ("a>b b>a", ["a", "b", "a"]),
        ("a>b b>c c>a c>d", ["a", "b", "c", "a"]),
        ("a>b b>c c>d d>a b>a", ["a", "b", "a"]),  # the shortest one is named
        ("a>b c>d d>c", ["c", "d", "c"]),
    ],
)
def test_the_cycle_finder_names_the_shortest_cycle(edges: str, cycle: list[str] | None) -> None:
    found = find_cycle(_graph(edges))
    if cycle is None:
        assert found is None
    else:
        assert found is not None
        assert [node[10:] for node, _ in found] + [found[0][0][10:]] == cycle
        assert all(imp.module == node for node, imp in found)


def test_the_import_reader_sees_lazy_relative_and_type_checking_imports(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "convoload"
    (package / "targets").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugins.py").write_text("")
    (package / "targets" / "__init__.py").write_text("")
    module = package / "targets" / "base.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import helpers\n"
        "from ..model import records\n"
        "from convoload import plugins\n"
        "if TYPE_CHECKING:\n"
        "    from convoload.config import Config\n"
        "def later():\n"
        "    import convoload_demo.tickets\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    found = sorted((imp.line, imp.target) for imp in imports_of(module))
    assert found == [
        (1, "typing"),
        (2, "convoload.targets"),
        (3, "convoload.model"),
        (4, "convoload.plugins"),
        (6, "convoload.config"),
        (8, "convoload_demo.tickets"),
    ]
    where = next(imports_of(module)).where()
    assert where == f"{tmp_path.name}/convoload/targets/base.py:1 (convoload.targets.base imports typing)"


def test_the_model_check_names_an_import_from_outside(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "convoload" / "model"
    model.mkdir(parents=True)
    (model / "__init__.py").write_text("from convoload.model.records import Record\n")
    (model / "records.py").write_text(
        "import json\nfrom pydantic import BaseModel\nfrom .stats import p\n\n"
        "def later():\n    from convoload.config import Config\n    import yaml\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "convoload")
    assert model_offenders() == [
        f"{tmp_path.name}/convoload/model/records.py:6 (convoload.model.records imports convoload.config)",
        f"{tmp_path.name}/convoload/model/records.py:7 (convoload.model.records imports yaml)",
    ]
