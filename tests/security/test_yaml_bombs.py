"""YAML alias bombs ("billion laughs") are refused in every YAML input, in one line naming the file.

Before: a few hundred bytes of nested aliases loaded as shared references, and whatever walked them next
(validation, templates, copies) took minutes and gigabytes.
"""

from __future__ import annotations

import pytest

from convoload.config import load_config
from convoload.errors import ConfigError
from convoload.llm.cost import load_prices
from convoload.monitor.config import load_monitor_config
from convoload.personas import load_persona_file
from convoload.pipeline.model import load_scenarios
from convoload.safeyaml import MAX_ALIAS_NODES, parse_yaml
from tests.helpers import error_line, invoke, write


def laughs(levels: int = 9, width: int = 9) -> str:
    """`levels` lists of `width` aliases to the previous one: width**levels strings from ~35 bytes a level."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"a: &a [{','.join(['lol'] * width)}]"]
    lines += [f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def merges(levels: int = 40) -> str:
    """Merge keys merging the previous mapping twice at each level: 2**levels copies from ~1.5 kB (which
    PyYAML releases before the fix of yaml/pyyaml#897 really built; later ones merge each key once)."""
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def indented(text: str, by: int) -> str:
    return "".join(" " * by + line + "\n" for line in text.splitlines())


def test_a_small_file_expanding_to_millions_of_nodes_is_refused():
    bomb = laughs()
    assert len(bomb) < 400  # 9**9 = 387 million strings
    with pytest.raises(ConfigError) as refused:
        parse_yaml(bomb, "bomb.yaml")
    assert refused.value.source == "bomb.yaml"
    assert "aliases expand it to" in refused.value.message and "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="aliases expand it to"):
        parse_yaml(merges(), "merges.yaml")
    with pytest.raises(ConfigError, match="refers to a node that contains it"):
        parse_yaml("a: &a [1, *a]\n", "loop.yaml")
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_yaml("[" * 50_000 + "]" * 50_000, "deep.yaml")


def _inputs(tmp_path, bomb: str) -> dict[str, tuple[list[str], object]]:
    """Every YAML input: the CLI command that reads it, and its loader."""
    config = write(  # in the body: any value goes, and templates walk every string of it
        tmp_path / "config.yaml",
        "target:\n  type: http\n  url: 'http://127.0.0.1:9/chat'\n  body:\n" + indented(bomb, 4),
    )
    persona = write(tmp_path / "persona.yaml", "name: Bomb\nfacts:\n" + indented(bomb, 2))
    scenarios = write(
        tmp_path / "scenarios.yaml", "scenarios:\n  - name: x\n    extra:\n" + indented(bomb, 6)
    )
    monitor = write(tmp_path / "monitor.yaml", "alerting:\n  channels:\n" + indented(bomb, 4))
    prices = write(tmp_path / "prices.yaml", bomb)
    return {
        "config": (["run", "-f", str(config), "--runs-dir", str(tmp_path)], lambda: load_config(config)),
        "persona": (["personas", "check", str(persona)], lambda: load_persona_file(persona)),
        "persona-in-config": (
            ["personas", "list", "-f", str(write(tmp_path / "c2.yaml", f"personas: ['{persona}']\n"))],
            None,
        ),
        "scenarios": (["pipeline", "--scenarios", str(scenarios)], lambda: load_scenarios(scenarios)),
        "monitor": (["monitor", "-f", str(monitor)], lambda: load_monitor_config(monitor)),
        "prices": ([], lambda: load_prices(prices)),
    }


@pytest.mark.parametrize("kind", ["config", "persona", "persona-in-config", "scenarios", "monitor", "prices"])
@pytest.mark.parametrize("bomb", [laughs(), merges()], ids=["laughs", "merges"])
def test_every_yaml_input_refuses_a_bomb(tmp_path, kind, bomb):
    args, loader = _inputs(tmp_path, bomb)[kind]
    source = str(tmp_path / ("persona" if kind == "persona-in-config" else kind)) + ".yaml"
    if loader is not None:
        with pytest.raises(ConfigError) as refused:
            loader()
        assert refused.value.source == source and "aliases expand it to" in str(refused.value)
    if args:
        line = error_line(invoke(*args))
        assert line.startswith(f"{source}: refused: ") and "aliases expand it to" in line, line


def test_ordinary_aliases_still_load(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        "run: &run {seed: 3, conversations: 4}\n"
        "target:\n"
        "  type: http\n"
        "  url: http://127.0.0.1:9/chat\n"
        "  headers: &auth {Authorization: Bearer abc, X-Team: qa}\n"
        "  variables: {<<: *auth, extra: '1'}\n"
        "  body: {headers: *auth, again: *auth, many: [*auth, *auth, *auth]}\n"
        "user: {scripts: &s [[hi, bye], [hello]], type: fixed}\n"
        "hooks: {thresholds: {slow_responses: {seconds: 3}, short_responses: {chars: 2}}}\n",
    )
    loaded = load_config(config)
    assert loaded.run.seed == 3 and loaded.run.conversations == 4
    assert loaded.target.variables == {"Authorization": "Bearer abc", "X-Team": "qa", "extra": "1"}
    assert loaded.target.body["many"] == [loaded.target.headers] * 3
    assert loaded.user.scripts == [["hi", "bye"], ["hello"]]


def test_the_limit_counts_what_aliases_add_not_the_files_own_size(monkeypatch):
    assert MAX_ALIAS_NODES >= 10_000  # far above what hand-written aliases add
    monkeypatch.setattr("convoload.safeyaml.MAX_ALIAS_NODES", 1_000)  # the same rule, smaller files
    big = "items:\n" + "".join(f"  - {{n: {i}, text: item {i}}}\n" for i in range(1_000))
    assert len(parse_yaml(big, "big.yaml")["items"]) == 1_000  # 5,000 nodes, no alias: never refused
    within = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 9) + "]\n"
    assert len(parse_yaml(within, "within.yaml")["b"]) == 9  # 1,014 nodes from 105: aliases add 909
    over = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 11) + "]\n"
    with pytest.raises(
        ConfigError, match=r"expand it to 1,216 nodes from 105 \(they may add at most 1,000\)"
    ):
        parse_yaml(over, "over.yaml")
