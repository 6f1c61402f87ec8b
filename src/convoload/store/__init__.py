"""Where finished conversations go: an append-only journal plus one JSON file each."""

from convoload.store.journal import RunJournal, read_journal

__all__ = ["RunJournal", "read_journal"]
