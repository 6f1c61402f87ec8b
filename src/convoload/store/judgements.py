"""A judged run's judge files: `judgements.jsonl` (one `Judgement` per conversation, in the journal's
order) and `judgement.json` (the `JudgementSummary`), read one line at a time; and the judgement
added to each conversation's own file, where users look for a conversation.

Here rather than in convoload.judge: the report, the load recorders and the store read these files,
and the judge package itself depends on the load package.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from convoload.model.judgement import Judgement, JudgementSummary
from convoload.store.journal import CONVERSATIONS_DIR, write_text_atomic

JUDGEMENTS_NAME = "judgements.jsonl"
SUMMARY_NAME = "judgement.json"

log = logging.getLogger(__name__)


def iter_judgements(run_dir: Path) -> Iterator[Judgement]:
    """The run's judgements in their file's order, one line in memory at a time; none when unjudged."""
    path = Path(run_dir) / JUDGEMENTS_NAME
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield Judgement.model_validate_json(line)


def read_judgement_summary(run_dir: Path) -> JudgementSummary | None:
    """The run's judgement.json; None when the run was not judged."""
    path = Path(run_dir) / SUMMARY_NAME
    if not path.is_file():
        return None
    return JudgementSummary.model_validate_json(path.read_text(encoding="utf-8"))


def conversation_file(run_dir: Path, user_id: int, session_id: str) -> Path:
    """The conversation's own file, as the journal names it."""
    return Path(run_dir) / CONVERSATIONS_DIR / f"conversation_{user_id:05d}_{session_id}.json"


def annotate_conversation_files(run_dir: Path, judgements: Iterable[Judgement] | None = None) -> int:
    """Put each judgement under `judgement` into its conversation's file (rewritten atomically, still
    compact JSON); a missing or unreadable file is left alone. Returns how many files were rewritten."""
    done = 0
    for judgement in iter_judgements(run_dir) if judgements is None else judgements:
        path = conversation_file(run_dir, judgement.user_id, judgement.session_id)
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(document, dict):
            continue
        document["judgement"] = judgement.model_dump(mode="json")
        write_text_atomic(path, json.dumps(document, ensure_ascii=False, separators=(",", ":")))
        done += 1
    return done


class JudgementsBySession:
    """Judgements looked up by session in a pass over conversations in (about) the judgements' order:
    a judge writes them in the journal's order, so the read-ahead is usually nothing and memory stays
    flat; conversations in another order only cost what was read ahead."""

    def __init__(self, judgements: Iterable[Judgement]) -> None:
        self._source = iter(judgements)
        self._ahead: dict[str, Judgement] = {}

    def get(self, session_id: str) -> Judgement | None:
        found = self._ahead.pop(session_id, None)
        if found is not None:
            return found
        for judgement in self._source:
            if judgement.session_id == session_id:
                return judgement
            self._ahead[judgement.session_id] = judgement
        return None
