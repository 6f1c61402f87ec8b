"""Merge a distributed run's journals into its run folder (`convoload report` on a run with workers).

For a master that died mid-run, or worker folders copied from other machines. The journals merged:
every worker's (`runs/<id>/worker-<k>/`, or folders given with `--merge`) and the master's own, when it
has one (partial if the master was killed). Each conversation is kept once, by session id. A copy in
several journals is normally the same line (the master journals the lines its workers ship). When copies
differ, the worker's own copy wins: the worker wrote it the moment the conversation finished; the
master's is what reached it over the network. Differences are counted and named, never silent.

The merged journal is the master's lines in their order, then the conversations it lacked in the order
they finished; a journal that gains nothing is left untouched, so a merge can be run again. run.json is
the master's, else built from the workers' (the run id, seed and settings they share, their plans
summed, status `running`: the master never said how the run ended, so the completion rules call it
incomplete). Either way `distributed.merged_from` lists the journals merged. `rebuild_run` then writes
the aggregate and the rest from the merged journal, as for any run.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from convoload.envsecrets import redact_json
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.model import ConversationRecord
from convoload.model.report import RunMeta, WorkerMeta
from convoload.store.journal import CONVERSATIONS_DIR, JOURNAL_NAME, META_NAME, journal_lines, write_json

log = logging.getLogger(__name__)

WORKER_PREFIX = "worker-"  # runs/<id>/worker-<k> (load.placement.Placement.run_dir)
# A session id names the conversation's file: a line from a copied folder must not name another path.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True, slots=True)
class MergedJournal:
    """One journal that went into a merge."""

    folder: Path
    worker_index: int | None  # None: the master's own journal
    conversations: int  # distinct conversations in it
    kept: int  # of them, the copies the merged journal holds

    def describe(self) -> dict[str, Any]:
        return {
            "records": str(self.folder),
            "worker_index": self.worker_index,
            "conversations": self.conversations,
            "kept": self.kept,
        }


@dataclass(frozen=True, slots=True)
class MergeResult:
    run_id: str
    journals: list[MergedJournal]
    conversations: int  # in the merged journal, each once
    duplicates: int  # copies found in more than one journal (or twice in one), kept once
    differing: list[str]  # session ids whose copies differed (the worker's copy kept)
    skipped: list[Path]  # worker-<k> subfolders without a journal (a worker that never started)


class _Place(BaseModel):
    """A worker's place in its run: run.json's `cluster` (load.placement.Placement.meta)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    worker_index: int = Field(ge=0)
    index_range: list[int] | None = None


@dataclass(frozen=True, slots=True)
class _Worker:
    folder: Path
    meta: RunMeta
    place: _Place


@dataclass(frozen=True, slots=True)
class _Copy:
    record: ConversationRecord
    line: bytes  # the journal line as written, with its newline
    source: int  # index into the merge's journals: workers by index first, the master's last


def worker_folders(run_dir: Path) -> tuple[list[Path], list[Path]]:
    """A run folder's worker-<k> subfolders: those with a journal, those without."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return [], []
    found = sorted(p for p in run_dir.glob(f"{WORKER_PREFIX}*") if p.is_dir())
    return [p for p in found if (p / JOURNAL_NAME).is_file()], [
        p for p in found if not (p / JOURNAL_NAME).is_file()
    ]


def is_distributed(run_dir: Path) -> bool:
    """Whether `convoload report run_dir` merges: the folder holds workers' journals."""
    return bool(worker_folders(run_dir)[0])


def merge_run(run_dir: Path, merge: Sequence[Path] = ()) -> MergeResult:
    """Merge the workers' journals (run_dir's worker-<k>/ and the `merge` folders) and the master's own
    into run_dir's journal.jsonl and run.json (see the module's docstring). Bad folders are ConfigErrors."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(str(run_dir), "", "not a folder")
    master = _master_meta(run_dir)
    found, skipped = worker_folders(run_dir)
    folders = _distinct([*found, *map(Path, merge)])
    if not folders:
        raise ConfigError(str(run_dir), "", f"no {WORKER_PREFIX}<k>/ folder with a {JOURNAL_NAME} to merge")
    workers = _workers(folders, master.run_id if master else None)
    run_id = master.run_id if master and master.run_id else workers[0].place.run_id

    sources: list[tuple[Path, int | None, list[tuple[ConversationRecord, bytes]]]] = [
        (w.folder, w.place.worker_index, _journal_lines(w.folder / JOURNAL_NAME)) for w in workers
    ]
    master_lines = _journal_lines(run_dir / JOURNAL_NAME) if (run_dir / JOURNAL_NAME).is_file() else None
    if master_lines is not None:
        sources.append((run_dir, None, master_lines))

    chosen: dict[str, _Copy] = {}
    differing: dict[str, None] = {}  # ordered set
    stale: set[str] = set()  # conversation files of copies not kept
    copies = 0
    distinct = [0] * len(sources)
    for number, (_, _, lines) in enumerate(sources):
        seen_here: set[str] = set()
        for record, line in lines:
            session = record.session_id
            copies += 1
            if session not in seen_here:
                seen_here.add(session)
                distinct[number] += 1
            first = chosen.get(session)
            if first is None:
                chosen[session] = _Copy(record, line, number)
            elif first.line != line and first.record != record:
                differing[session] = None
                stale.add(_file_name(record))
    kept = [0] * len(sources)
    for copy in chosen.values():
        kept[copy.source] += 1

    _write_journal(run_dir, master_lines or [], chosen)
    for name in stale:  # a copy's file that was not kept goes; rebuild_run writes the kept copy's
        (run_dir / CONVERSATIONS_DIR / name).unlink(missing_ok=True)
    journals = [
        MergedJournal(folder.resolve(), index, distinct[i], kept[i])
        for i, (folder, index, _) in enumerate(sources)
    ]
    meta = master.to_document() if master else _meta_from_workers(run_id, workers)
    meta["run_id"] = run_id
    listed = master is not None and master.distributed is not None and bool(master.distributed.workers)
    distributed = master.distributed.to_document() if master and master.distributed else {}
    if not listed:  # the master's own list (hosts, receivers) when it got to write one
        distributed["workers"] = [_describe(w, distinct[i]) for i, w in enumerate(workers)]
    distributed["records"] = f"merged into this folder's {JOURNAL_NAME} from distributed.merged_from"
    distributed["merged_from"] = [j.describe() for j in journals]
    meta["distributed"] = distributed
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / META_NAME, meta)
    return MergeResult(
        run_id=run_id,
        journals=journals,
        conversations=len(chosen),
        duplicates=copies - len(chosen),
        differing=list(differing),
        skipped=skipped,
    )


def _master_meta(run_dir: Path) -> RunMeta | None:
    """The master's run.json, if it wrote one (a master killed early may not have)."""
    path = run_dir / META_NAME
    document = _read_object(path, required=False)
    if document is None:
        return None
    meta = _validate_meta(path, document)
    if meta.cluster is not None:
        raise ConfigError(
            str(path),
            "cluster",
            f"this is a worker's folder; give the run folder that holds {WORKER_PREFIX}<k>/ (its parent)",
        )
    return meta


def _workers(folders: list[Path], run_id: str | None) -> list[_Worker]:
    """Each folder read as a worker of run `run_id` (the first worker's run when None), by index."""
    workers: list[_Worker] = []
    by_index: dict[int, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError(str(folder), "", "no such folder")
        if not (folder / JOURNAL_NAME).is_file():
            raise ConfigError(str(folder), "", f"no {JOURNAL_NAME} here: not a worker's run folder")
        path = folder / META_NAME
        document = _read_object(path, required=True)
        assert document is not None
        meta = _validate_meta(path, document)
        if meta.cluster is None:
            raise ConfigError(str(path), "cluster", "missing: not a distributed worker's run folder")
        try:
            place = _Place.model_validate(meta.cluster)
        except ValidationError as exc:
            raise pydantic_error_to_config_error(str(path), exc, "cluster") from None
        run_id = run_id or place.run_id
        if place.run_id != run_id:
            message = f"a worker of run {place.run_id!r}, not {run_id!r}"
            raise ConfigError(str(path), "cluster.run_id", message)
        other = by_index.get(place.worker_index)
        if other is not None:
            raise ConfigError(str(folder), "", f"worker {place.worker_index} twice: also {other}")
        by_index[place.worker_index] = folder
        workers.append(_Worker(folder, meta, place))
    return sorted(workers, key=lambda w: w.place.worker_index)


def _read_object(path: Path, *, required: bool) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise ConfigError(str(path), "", "missing: not a convoload run folder")
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), "", f"unreadable: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(str(path), "", "not a JSON object")
    return document


def _validate_meta(path: Path, document: dict[str, Any]) -> RunMeta:
    try:
        return RunMeta.model_validate(document)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(str(path), exc) from None


def _distinct(folders: list[Path]) -> list[Path]:
    """The folders, each once (the same folder found in run_dir and given with --merge)."""
    seen: set[Path] = set()
    out = []
    for folder in folders:
        key = folder.resolve()
        if key not in seen:
            seen.add(key)
            out.append(folder)
    return out


def _journal_lines(path: Path) -> list[tuple[ConversationRecord, bytes]]:
    """Every complete line of a journal with its record; a torn line (a kill mid-write) is skipped."""
    lines = []
    for record, line in journal_lines(path):
        if not _SESSION_ID.fullmatch(record.session_id):
            log.warning("%s: skipping a conversation with session id %r", path, record.session_id[:80])
            continue
        # redact_json: the guard every journal line passes (a copied folder may predate a secret).
        lines.append((record, redact_json(line.rstrip(b"\r\n")) + b"\n"))
    return lines


def _write_journal(
    run_dir: Path, master_lines: list[tuple[ConversationRecord, bytes]], chosen: dict[str, _Copy]
) -> None:
    """The master's lines in their order (the kept copy of each), then the rest in finishing order."""
    out: list[bytes] = []
    written: set[str] = set()
    for record, _ in master_lines:
        session = record.session_id
        if session not in written:
            written.add(session)
            out.append(chosen[session].line)
    rest = [copy for session, copy in chosen.items() if session not in written]
    # Stable: within a worker, journal order breaks ties of equal (or missing) finishing times.
    rest.sort(key=lambda copy: (copy.record.finished_at or "", copy.source))
    out.extend(copy.line for copy in rest)
    data = b"".join(out)
    path = run_dir / JOURNAL_NAME
    if path.is_file() and path.read_bytes() == data:
        return  # nothing new: the journal stays as it is
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _file_name(record: ConversationRecord) -> str:
    """The conversation's file in conversations/ (as RunJournal and rebuild_run name it)."""
    return f"conversation_{record.user_id:05d}_{record.session_id}.json"


def _describe(worker: _Worker, conversations: int) -> dict[str, Any]:
    """The worker as the master would have listed it; `complete`: the worker's run ended (not killed)."""
    return WorkerMeta(
        worker_index=worker.place.worker_index,
        run_id=worker.meta.run_id,
        records=str(worker.folder.resolve()),
        index_range=worker.place.index_range,
        conversations=conversations,
        complete=worker.meta.status != "running",
    ).to_document()


def _meta_from_workers(run_id: str, workers: list[_Worker]) -> dict[str, Any]:
    """The run.json the master never wrote: what its workers share, their plans summed, never ended."""
    first = workers[0].meta
    # A worker's own id, place, plan share, end and counters are not the run's.
    own = {"run_id", "cluster", "plan", "status", "finished_at", "stopped_by", "target_stats"}
    meta: dict[str, Any] = {"run_id": run_id}
    meta.update({k: v for k, v in first.to_document().items() if k not in own})
    started = [w.meta.started_at for w in workers if w.meta.started_at]
    if started:
        meta["started_at"] = min(started)
    plans = [w.meta.plan for w in workers]
    plan: dict[str, Any] = {}
    if all(p is not None and p.conversations is not None for p in plans):
        plan["conversations"] = sum(p.conversations for p in plans if p and p.conversations)
    if first.plan is not None and first.plan.duration_s is not None:
        plan["duration_s"] = first.plan.duration_s
    if plan:
        meta["plan"] = plan
    meta["status"] = "running"  # the master never said how the run ended: killed, to the completion rules
    counters: dict[str, int] = {}
    for worker in workers:
        for key, value in (worker.meta.target_stats or {}).items():
            if isinstance(value, int):
                counters[key] = counters.get(key, 0) + value
    if counters:
        meta["target_stats"] = dict(sorted(counters.items()))
    return meta
