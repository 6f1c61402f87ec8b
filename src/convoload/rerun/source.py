"""The run a rerun or an export starts from: its folder, its conversations, and how it was played."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convoload.config import Config, Override, apply_overrides, load_config
from convoload.errors import ConfigError
from convoload.load.snapshot import SNAPSHOT_NAME, PlayedPersona, RunSnapshot, read_snapshot
from convoload.model import ConversationRecord
from convoload.store.journal import JOURNAL_NAME, META_NAME, read_journal

# Where run folders sit under a runs folder: runs/<id>, the monitor's runs/<job>/<id> and
# runs/pipeline/<pipeline>/<id>.
_DEPTHS = ("*", "*/*", "*/*/*")


def find_run(run: str, runs_dir: Path) -> Path:
    """RUN as a folder holding a journal, else a run id (or unique id prefix) of a folder under
    `runs_dir` (also in the monitor's job folders). A ConfigError naming RUN otherwise."""
    given = Path(run)
    if (given / JOURNAL_NAME).is_file():
        return given
    matches: list[Path] = []
    if runs_dir.is_dir() and run and "/" not in run:
        for pattern in _DEPTHS:
            for journal in runs_dir.glob(f"{pattern}/{JOURNAL_NAME}"):
                folder = journal.parent
                if folder.name.startswith(run) and not folder.name.startswith("worker-"):
                    matches.append(folder)
    exact = [p for p in matches if p.name == run]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if matches:
        names = ", ".join(sorted(p.name for p in matches)[:5])
        raise ConfigError(f"run {run!r}", "", f"is the prefix of several runs ({names})")
    where = f"no {JOURNAL_NAME} in {given} nor a run of that id under {runs_dir}"
    raise ConfigError(f"run {run!r}", "", where)


@dataclass(frozen=True, slots=True)
class SourceRun:
    """A finished (or killed) run, read back: its records in journal order and its settings."""

    run_dir: Path
    run_id: str
    meta: dict[str, Any]  # run.json
    records: list[ConversationRecord]
    snapshot: RunSnapshot | None  # None for runs of versions that kept no settings.json

    @classmethod
    def open(cls, run: str, runs_dir: Path) -> SourceRun:
        run_dir = find_run(run, runs_dir)
        meta_path = run_dir / META_NAME
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        except ValueError as exc:
            raise ConfigError(str(meta_path), "", f"not JSON: {exc}") from None
        records = read_journal(run_dir / JOURNAL_NAME)
        run_id = str(meta.get("run_id") or (records[0].run_id if records else run_dir.name))
        snapshot = read_snapshot(run_dir)
        for worker in sorted(run_dir.glob("worker-*")) if snapshot is None else ():
            # A distributed run: its master keeps no settings.json, each worker played with the same.
            snapshot = read_snapshot(worker)
            if snapshot is not None:
                break
        return cls(run_dir, run_id, meta, records, snapshot)

    @property
    def seed(self) -> int | None:
        if self.snapshot is not None:
            return self.snapshot.seed
        seed = self.meta.get("seed")
        return seed if isinstance(seed, int) else None

    def select(self, sessions: list[str], *, failed: bool) -> list[ConversationRecord]:
        """The conversations named (by session id or a unique prefix of one), plus with `failed` every
        one that missed its goal; every conversation when neither is asked. In journal order."""
        chosen: dict[str, ConversationRecord] = {}
        for given in sessions:
            found = [r for r in self.records if r.session_id.startswith(given)] if given else []
            exact = [r for r in found if r.session_id == given]
            if not found:
                raise ConfigError("--session", "", f"run {self.run_id} has no conversation {given!r}")
            if len(exact) != 1 and len(found) > 1:
                raise ConfigError("--session", "", f"{given!r} is the prefix of several sessions")
            record = (exact or found)[0]
            chosen[record.session_id] = record
        if failed:
            missed = [r for r in self.records if not r.goal_reached]
            if not missed:
                raise ConfigError("--failed", "", f"run {self.run_id} has no failed conversation")
            chosen.update((r.session_id, r) for r in missed)
        if not sessions and not failed:
            if not self.records:
                raise ConfigError(f"run {self.run_id}", "", "has no finished conversation in its journal")
            return list(self.records)
        return [r for r in self.records if r.session_id in chosen]

    def record(self, session: str) -> ConversationRecord:
        return self.select([session], failed=False)[0]

    def config(self, config_path: Path | None) -> Config:
        """The config the run was played with: `config_path` when given, else its settings.json,
        else the config file run.json names (runs of earlier versions)."""
        if config_path is not None:
            return load_config(config_path)
        if self.snapshot is not None:
            return self.snapshot.config
        named = self.meta.get("config")
        if isinstance(named, str) and named != "(defaults)" and Path(named).is_file():
            config = load_config(Path(named))
        elif named == "(defaults)":
            config = load_config(None)
        else:
            named = f"its config file {named} is gone" if isinstance(named, str) else "names no config file"
            raise ConfigError(str(self.run_dir), "", f"has no {SNAPSHOT_NAME} and {named}; give it with -f")
        user = self.meta.get("user")
        return apply_overrides(config, [Override(f"{self.run_dir / META_NAME}: user", "user.type", user)])

    def played_persona(self, name: str) -> PlayedPersona | None:
        return self.snapshot.persona(name) if self.snapshot is not None else None
