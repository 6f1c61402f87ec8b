"""Open registries: where convoload finds bundled systems, playbooks, hooks and scenario suites.

A pack (the demo pack in this repository, or a user's own package) registers objects under
entry-point groups in its `pyproject.toml`:

    [project.entry-points."convoload.playbooks"]
    insurance = "my_pack.playbooks:InsurancePlaybook"

Anything a config names can also be given as `module:attribute` without registering it, and
tests or scripts can `register()` an object in-process. convoload itself never imports a pack:
it only loads what these registries point at, when a run names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# The entry-point groups convoload reads.
BUNDLED = "convoload.bundled"
PLAYBOOKS = "convoload.playbooks"
HOOKS = "convoload.hooks"
SCENARIOS = "convoload.scenarios"
COMMANDS = "convoload.commands"


def load_object(spec: str) -> Any:
    """Resolve `package.module:attribute` (also `module:Class.attribute`); ValueError says what is wrong."""
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise ValueError(f"{spec!r} is not of the form module:attribute")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    return obj


def import_callable(spec: str) -> Callable[..., Any]:
    """`load_object`, for specs that must name something callable (a function or a class)."""
    obj = load_object(spec)
    if not callable(obj):
        raise ValueError(f"{spec!r} is not callable")
    return obj


class Registry(Generic[T]):
    """Named objects of one kind: entry points of `group`, plus what was `register`ed in-process.

    `check` (optional) validates a loaded object and raises ValueError when it is not of the kind.
    Entry points are read once, on first use, and each is imported only when asked for by name.
    """

    def __init__(self, group: str, kind: str, check: Callable[[Any], T] | None = None) -> None:
        self.group = group
        self.kind = kind
        self._check = check
        self._entry_points: dict[str, EntryPoint] | None = None
        self._registered: dict[str, T] = {}
        self._loaded: dict[str, T] = {}

    def _points(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        return sorted({*self._points(), *self._registered})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._registered or name in self._points())

    def register(self, name: str, obj: T) -> None:
        """Add (or replace) `name` for this process: a pack that is not installed, a test's own object."""
        self._registered[name] = self._check(obj) if self._check is not None else obj
        self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)
        self._loaded.pop(name, None)

    def get(self, name: str) -> T:
        """The object registered as `name`; KeyError (with the installed names) when there is none."""
        if name in self._registered:
            return self._registered[name]
        if name in self._loaded:
            return self._loaded[name]
        point = self._points().get(name)
        if point is None:
            installed = ", ".join(self.names()) or "none installed"
            raise KeyError(f"unknown {self.kind} {name!r} (installed: {installed})")
        try:
            obj = point.load()
        except Exception as exc:  # a broken pack must name itself, not crash the run
            raise KeyError(f"{self.kind} {name!r} ({point.value}) cannot be loaded: {exc}") from None
        self._loaded[name] = self._validated(obj, name)
        return self._loaded[name]

    def resolve(self, spec: str) -> T:
        """A registered name, or `module:attribute`; KeyError says which and why not."""
        if ":" in spec:
            try:
                return self._validated(load_object(spec), spec)
            except ValueError as exc:
                raise KeyError(str(exc)) from None
        return self.get(spec)

    def _validated(self, obj: Any, name: str) -> T:
        if self._check is None:
            return obj
        try:
            return self._check(obj)
        except ValueError as exc:
            raise KeyError(f"{self.kind} {name!r}: {exc}") from None


__all__ = [
    "BUNDLED",
    "COMMANDS",
    "HOOKS",
    "PLAYBOOKS",
    "SCENARIOS",
    "Registry",
    "import_callable",
    "load_object",
]
