"""YAML as every convoload input reads it: safe types only, and no alias bombs.

YAML anchors and aliases share one node, so a few hundred bytes of nested aliases ("billion laughs")
describe billions of nodes; PyYAML builds them as shared references quickly, but whatever walks the
result (validation, copies, reports) then takes minutes and gigabytes. Before anything is built, the
document's size with every alias and merge key expanded is computed (once per distinct node) and a
document whose aliases add more than MAX_ALIAS_NODES nodes, or that contains itself, is refused.
A file without aliases is never refused: its expansion is its own size. A merge key (`<<: *base`) counts
as the copy of the merged mapping it makes; PyYAML releases before the fix of yaml/pyyaml#897 really made
every copy, so exponentially chained merges are refused whichever release is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from convoload.errors import ConfigError, ConvoloadError

MAX_ALIAS_NODES = 100_000  # nodes aliases may add; hand-written configs add dozens


class _AliasBomb(ConvoloadError):  # private: parse_yaml turns it into a ConfigError
    pass


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: Node) -> tuple[int, int]:
    """(nodes with every alias expanded, distinct nodes). Iterative: deep documents cannot overflow."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()  # nodes whose subtree is being summed: the current path from the root
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, summed = stack.pop()
        key = id(node)
        if summed:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _AliasBomb("an alias refers to a node that contains it")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)], len(sizes)


class _BoundedLoader(yaml.SafeLoader):
    def construct_document(self, node: Node) -> Any:
        expanded, distinct = expanded_size(node)
        if expanded - distinct > MAX_ALIAS_NODES:
            raise _AliasBomb(
                f"its aliases expand it to {expanded:,} nodes from {distinct:,} "
                f"(they may add at most {MAX_ALIAS_NODES:,})"
            )
        return super().construct_document(node)


def parse_yaml(text: str, source: str) -> Any:
    """The document in `text` (safe types only); anything wrong is a ConfigError naming `source`."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(source, "", f"invalid YAML{where}: {problem}") from None
    except _AliasBomb as exc:
        raise ConfigError(source, "", f"refused: {exc}") from None
    except RecursionError:
        raise ConfigError(source, "", "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def read_text_file(path: Path) -> str:
    """A UTF-8 text file; a missing, unreadable or blank file is a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read file ({exc.__class__.__name__})") from None
    if not text.strip():
        raise ConfigError(str(path), "", "file is empty")
    return text


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file (and line). Alias bombs are refused."""
    data = parse_yaml(read_text_file(path), str(path))
    if data is None:
        raise ConfigError(str(path), "", "file is empty")
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"expected a mapping at the top level, found {type(data).__name__}")
    return data
