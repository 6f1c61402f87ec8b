"""`convoload export`: one recorded conversation as a regression test.

`fixed`: a config file whose `fixed` user sends the conversation's user messages, one a turn, to the
run's target (`convoload run -f FILE`); `pytest`: a test file that holds the same conversation through
`convoload.converse` and asserts that the goal is reached, showing the transcript when it is not.

Both keep the run's target, goal, hooks and seed; they leave out where the run kept its records (its
runs folder, its results store) and its replay cache. A persona of a bundled system is named; any
other is written out (beside the config, or inside the test file), so the test does not depend on
the persona file the run read.
"""

from __future__ import annotations

import pprint
import re
from pathlib import Path
from typing import Any

import yaml

from convoload.config import Config
from convoload.model import ConversationRecord
from convoload.personas.model import Persona
from convoload.rerun.source import SourceRun
from convoload.store.journal import write_text_atomic
from convoload.textutil import fold

FORMATS = ("fixed", "pytest")


def default_path(record: ConversationRecord, kind: str) -> Path:
    """Where an export goes without -o: the working directory, named after persona and session."""
    stem = f"{_slug(record.persona)}_{record.session_id[:8]}"
    return Path(f"test_{stem}.py" if kind == "pytest" else f"{stem}.yaml")


def export_conversation(source: SourceRun, record: ConversationRecord, kind: str, path: Path) -> list[Path]:
    """Write `record` as `kind` (fixed | pytest) to `path`; returns the files written."""
    config = source.config(None)
    messages = [turn.user_text for turn in record.turns]
    persona = _persona(source, record)
    document = _portable(config, source, record, messages)
    written: list[Path] = []
    if kind == "fixed":
        if isinstance(persona, Persona):
            persona_path = path.with_name(path.stem + ".persona.yaml")
            _write_yaml(persona_path, persona.model_dump(mode="json"), f"persona {persona.name}")
            written.append(persona_path)
            persona = persona_path.name  # relative to the config file, as persona paths are
        document["personas"] = [persona]
        header = (
            f"Conversation {record.session_id} of run {source.run_id} ({record.persona}: "
            f"{_outcome(record)}), exported by `convoload export`.\n"
            f"Its user messages, sent one a turn by a fixed user: convoload run -f {path.name}"
        )
        _write_yaml(path, document, header)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, _pytest_file(source, record, document, persona, path))
    return [path, *written]


def _portable(
    config: Config, source: SourceRun, record: ConversationRecord, messages: list[str]
) -> dict[str, Any]:
    """The run's config as a fixed user's config for this one conversation."""
    document = config.model_dump(mode="json", exclude_defaults=True)
    run = document.get("run", {})
    for key in ("runs_dir", "conversations", "concurrency", "ramp_up_s", "persona_assignment"):
        run.pop(key, None)
    document["run"] = {
        "conversations": 1,
        "concurrency": 1,
        **run,
        "seed": source.seed if source.seed is not None else config.run.seed,
        # Every message of the script is sent, whatever the run's own limit was.
        "max_iterations": max(config.run.max_iterations, len(messages), 1),
    }
    # Named even when they are the defaults: the test must not follow a change of default.
    target = document.setdefault("target", {})
    target["type"] = config.target.type
    if config.target.type == "demo":
        target.setdefault("demo", {})["agent"] = config.target.demo.agent
    document.pop("store", None)  # the test keeps its records where it runs, not in the run's store
    llm = document.get("llm", {})
    llm.pop("cache_path", None)
    llm.pop("replay", None)
    if not llm:
        document.pop("llm", None)
    document["user"] = {"type": "fixed", "scripts": [messages]}
    return document


def _persona(source: SourceRun, record: ConversationRecord) -> str | Persona:
    """A bundled system's persona by name, any other as the persona itself."""
    played = source.played_persona(record.persona)
    if played is None:
        return record.persona  # an earlier version's run: the name, as its config gave it
    if played.source and played.source.startswith("builtin:"):
        return played.persona.name
    return played.persona


def _pytest_file(
    source: SourceRun, record: ConversationRecord, config: dict[str, Any], persona: str | Persona, path: Path
) -> str:
    name = f"test_{_slug(record.persona)}_{record.session_id[:8]}"
    imports = "import convoload  # noqa: E402\n"
    if isinstance(persona, Persona):
        imports = "import json  # noqa: E402\n\n" + imports
        data = pprint.pformat(persona.model_dump(mode="json"), width=100, sort_dicts=False)
        persona_block = (
            f"\n# The persona, as the run played it (written to a file for the run).\nPERSONA = {data}\n"
        )
        personas = (
            '    persona_file = tmp_path / "persona.yaml"\n'
            '    persona_file.write_text(json.dumps(PERSONA), encoding="utf-8")  # JSON is YAML\n'
            '    config = {**CONFIG, "personas": [str(persona_file)]}\n'
        )
        persona_name = persona.name
    else:
        persona_block = ""
        personas = f'    config = {{**CONFIG, "personas": [{persona!r}]}}\n'
        persona_name = persona
    body = pprint.pformat(config, width=100, sort_dicts=False)
    return f'''"""Regression test: conversation {record.session_id} of run {source.run_id}.

Exported by `convoload export {source.run_id} --session {record.session_id} --as pytest`.
In the run it ended {_outcome(record)} after {len(record.turns)} turns. The test sends the same user
messages, one a turn, to the run's target and asserts that the customer reaches the goal.

Run it with gevent's patching loaded before pytest's other plugins (they import ssl):
    pytest -p convoload.testing.patched {path.name}
"""

from gevent import monkey

monkey.patch_all()  # convoload holds conversations in gevent greenlets: patch before ssl is imported

{imports}
# The run's config, with a fixed user that sends the recorded user messages.
CONFIG = {body}
{persona_block}

def _transcript(record: convoload.ConversationRecord) -> str:
    lines = [f"outcome {{record.outcome}}: {{record.stop_reason or record.error}}"]
    lines += [f"  {{m['role']}}: {{m['text']}}" for m in record.messages()]
    return "\\n".join(lines)


def {name}(tmp_path):
{personas}    config = convoload.Config.model_validate({{**config, "source": __file__}})
    record = convoload.converse(config, persona={persona_name!r}, runs_dir=tmp_path)
    assert record.goal_reached, _transcript(record)
'''


def _write_yaml(path: Path, document: dict[str, Any], header: str) -> None:
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, comment + text)


def _outcome(record: ConversationRecord) -> str:
    outcome = record.outcome.value if record.outcome else "unfinished"
    return f"{outcome} ({record.stop_reason})" if record.stop_reason else outcome


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_") or "conversation"
