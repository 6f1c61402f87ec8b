"""The three parts a RunContext composes, each on its own: RunSpec (what a run is), RunResources (what
it starts) and RunRecorders (what records it); and the order the context builds them in.

`stub-test` is a bundled system registered in-process as a pack would: a real chat API on loopback,
each start recorded, whose target fields can be made invalid (`bad_body`) so that building the target
fails after its server is up.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from convoload.bundled import BUNDLED, BundledSystem, Launch, StartedSystem, chat_target
from convoload.config import Config
from convoload.conversation.loop import run_conversation
from convoload.errors import ConfigError
from convoload.events import EventBus
from convoload.hooks.base import Hook, HookContext
from convoload.llm.providers import LOCAL_SERVER
from convoload.load.context import RunContext
from convoload.load.placement import IndexSpaceError, Placement
from convoload.load.recorders import RunRecorders
from convoload.load.resources import RunResources
from convoload.load.run_spec import RunSpec
from convoload.model import ConversationRecord
from convoload.personas.model import Persona
from convoload.store.journal import read_journal
from convoload.store.results import ResultsStore
from convoload.targets.base import Session
from convoload.targets.python import PythonTarget
from convoload.users.factory import build_user
from tests.helpers import LocalApp

STUB = "stub-test"
CAST = [Persona(name="Ana", source="given"), Persona(name="Bia", source="given")]


class StubOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bad_body: bool = False  # target fields with an unknown placeholder: building the target fails


class Stub(BundledSystem):
    options = StubOptions

    def __init__(self, name: str) -> None:
        self.name = name
        self.servers: list[LocalApp] = []

    def start(self, options: StubOptions, launch: Launch) -> StartedSystem:
        server = LocalApp(lambda _environ, _body: (200, {"reply": "ok", "agent": "stub"}))
        launch.resources.callback(server.stop)
        self.servers.append(server)
        target = chat_target(server.url + "/chat")
        if options.bad_body:
            target = {**target, "body": {"message": "{nope}"}}
        return StartedSystem(self.name, server.url + "/v1", target, components={"agent": server.url})


def registered(name: str) -> Iterator[Stub]:
    system = Stub(name)
    BUNDLED.register(name, system)
    try:
        yield system
    finally:
        BUNDLED.unregister(name)  # an installed one (the local LLM server) is found again


@pytest.fixture
def stub() -> Iterator[Stub]:
    yield from registered(STUB)


@pytest.fixture
def local_llm() -> Iterator[Stub]:
    """The local LLM provider server, replaced by a stub: started and stopped, never asked."""
    yield from registered(LOCAL_SERVER)


def refused(server: LocalApp) -> bool:
    try:
        httpx.get(server.url + "/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def echo(text: str, session: Session, iteration: int) -> str:
    return f"echo {iteration}: {text}"


def config(tmp_path: Path, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "run": {"seed": 7, "runs_dir": str(tmp_path / "runs"), "persona_assignment": "random"},
        "target": {"type": "python", "function": f"{__name__}:echo"},
        "user": {"type": "fixed", "scripts": [["hi", "bye"]]},
        "llm": {"cache_path": None},
    }
    data.update(sections)
    return Config.model_validate(data)


def demo(tmp_path: Path, **options: Any) -> dict[str, Any]:
    return {"target": {"type": "demo", "demo": {"agent": STUB, **options}}}


# -- RunSpec ------------------------------------------------------------------------------------------


def test_a_spec_is_the_same_run_for_the_same_seed_and_starts_or_writes_nothing(tmp_path, stub):
    first, again = (RunSpec.resolve(config(tmp_path, **demo(tmp_path)), personas=CAST) for _ in range(2))
    other_seed = RunSpec.resolve(config(tmp_path, run={"seed": 8, "runs_dir": str(tmp_path)}), personas=CAST)

    cast = [first.persona_for(i).name for i in range(12)]
    assert cast == [again.persona_for(i).name for i in range(12)] and set(cast) == {"Ana", "Bia"}
    assert [first.identity(i) for i in range(3)] == [again.identity(i) for i in range(3)]
    assert first.identity(0) != first.identity(1) and first.identity(0) != other_seed.identity(0)
    assert first.goal.description == again.goal.description
    assert first.run_id != again.run_id and first.run_dir == tmp_path / "runs" / first.run_id
    assert first.script(3) == ["hi", "bye"]
    assert stub.servers == [], "resolving a spec starts no server"
    assert list(tmp_path.iterdir()) == [], "nor writes anything"


def test_a_placed_spec_hands_out_its_block_of_indices_and_no_more(tmp_path):
    placement = Placement(run_id="run1", worker_index=1, first_index=2, stop_index=4)
    spec = RunSpec.resolve(config(tmp_path), personas=CAST, placement=placement)
    assert (spec.run_id, spec.run_dir) == ("run1-w1", tmp_path / "runs" / "run1" / "worker-1")
    assert [spec.indices.claim(), spec.indices.claim()] == [2, 3]
    with pytest.raises(IndexSpaceError):
        spec.indices.claim()
    assert spec.meta(target={}, llm=[], replay=False)["cluster"]["index_range"] == [2, 4]
    # Its conversations are the distributed run's; the results store is its master's to write.
    assert spec.conversation_run_id == "run1" and spec.store_url is None
    assert RunSpec.resolve(config(tmp_path), personas=CAST).store_url is not None


def test_a_bad_hooks_section_fails_before_anything_is_started_or_written(tmp_path, stub):
    # It used to fail after the run had started its bundled system (left running) and its folder.
    bad = config(tmp_path, hooks={"disabled": ["nope"]}, **demo(tmp_path))
    with pytest.raises(ConfigError) as info:
        RunContext(bad, personas=CAST)
    assert info.value.field == "hooks.disabled[0]"
    assert stub.servers == [] and not (tmp_path / "runs").exists()


# -- RunResources -------------------------------------------------------------------------------------


def test_resources_start_the_bundled_system_and_stop_it_when_closed(tmp_path, stub):
    spec = RunSpec.resolve(config(tmp_path, **demo(tmp_path)), personas=CAST)
    with RunResources(spec) as resources:
        (server,) = stub.servers
        assert resources.bundled is not None and resources.bundled.name == STUB
        assert resources.target_meta() == {"type": "demo", "url": server.url + "/v1"}
        session = Session(session_id="s", user_id=1, persona="Ana", identity=spec.identity(0))
        reply = resources.target.send(session, "hello", 1)
        assert reply.text == "ok" and resources.llm is None and not resources.replay
    assert refused(server)


def test_resources_that_fail_while_starting_stop_what_they_had_started(tmp_path, stub, local_llm):
    llm_user = {"type": "llm", "llm": "local/persona"}
    spec = RunSpec.resolve(config(tmp_path, user=llm_user, **demo(tmp_path, bad_body=True)), personas=CAST)
    with pytest.raises(ConfigError) as info:
        RunResources(spec)
    assert info.value.field == "target.body.message"  # the target, built after both servers were up
    (provider,), (agent,) = local_llm.servers, stub.servers
    assert refused(provider) and refused(agent)


def test_a_target_given_as_an_object_is_used_and_named_in_run_json(tmp_path):
    spec = RunSpec.resolve(config(tmp_path), personas=CAST)
    given = PythonTarget(echo)
    with RunResources(spec, target=given) as resources:
        assert resources.target is given
        assert resources.target_meta() == {"type": "python", "url": None}


# -- RunRecorders -------------------------------------------------------------------------------------


class Noted(Hook):
    """Notes every conversation's last reply: it must be on the record by the time it is journaled."""

    name = "noted"

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None:
        ctx.report("seen", iteration=record.turns[-1].iteration, reply=record.turns[-1].reply_text)


def converse(spec: RunSpec, bus: EventBus, index: int) -> ConversationRecord:
    """One real conversation with the echo function, its events on `bus`."""
    persona, identity = spec.persona_for(index), spec.identity(index)
    session = Session(session_id=uuid.uuid4().hex, user_id=index + 1, persona=persona.name, identity=identity)
    user = build_user("fixed", persona, identity, seed=None, script=spec.script(index))
    return run_conversation(
        run_id=spec.run_id, session=session, user=user, target=PythonTarget(echo), goal=spec.goal, bus=bus
    )


def test_recorders_journal_store_and_aggregate_a_finished_conversation(tmp_path):
    db = tmp_path / "results.sqlite"
    spec = RunSpec.resolve(config(tmp_path, store={"url": f"sqlite:///{db}"}), personas=CAST, hooks=[Noted()])
    bus = EventBus()
    meta = spec.meta(target={"type": "python", "url": None}, llm=[], replay=False)
    recorders = RunRecorders(spec, bus, meta)
    try:
        assert json.loads((spec.run_dir / "run.json").read_text())["status"] == "running"
        record = converse(spec, bus, 0)
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        document = recorders.aggregate({**meta, "finished_at": finished, "status": "ended"}, llm=False)
    finally:
        recorders.close()

    (journaled,) = read_journal(spec.run_dir / "journal.jsonl")
    assert journaled.session_id == record.session_id and journaled.turns[-1].reply_text == "echo 2: bye"
    # The given hook ran after the configured ones, and before the record was journaled.
    assert journaled.findings[-1].hook == "noted" and journaled.findings[-1].data == {"reply": "echo 2: bye"}
    assert document["summary"]["total_conversations"] == 1 and document["run"]["status"] == "finished"
    written = json.loads((spec.run_dir / "aggregate.json").read_text())
    # The document returned leaves the list of conversations to the file, streamed from the journal.
    assert [c["session_id"] for c in written["conversations"]] == [record.session_id]
    assert written == {**document, "conversations": written["conversations"]}
    assert json.loads((spec.run_dir / "run.json").read_text()) == document["run"]
    assert (spec.run_dir / "conversations.csv").read_text().count(record.session_id) == 1
    with ResultsStore(f"sqlite:///{db}") as store:
        (stored,) = store.conversations(spec.run_id)
        assert stored.session_id == record.session_id and stored.findings == journaled.findings
        assert store.require_run(spec.run_id).status == "finished"
        assert [g.grade for g in store.grades(spec.run_id)] == [document["assessment"]["grade"]]


# -- RunContext: the order it builds them in -----------------------------------------------------------


def test_a_store_that_cannot_be_opened_stops_what_the_run_started_and_writes_no_folder(tmp_path, stub):
    db = tmp_path / "not-a-database.sqlite"
    db.write_text("plain text, not SQLite " * 10)
    with pytest.raises(ConfigError, match="cannot open the database"):
        RunContext(config(tmp_path, store={"url": f"sqlite:///{db}"}, **demo(tmp_path)), personas=CAST)
    (server,) = stub.servers
    assert refused(server) and not (tmp_path / "runs").exists()


def test_a_context_offers_its_parts_pieces_and_closes_them_all(tmp_path, stub):
    context = RunContext(config(tmp_path, **demo(tmp_path)), personas=CAST)
    try:
        assert (context.run_id, context.seed, context.run_dir) == (
            context.spec.run_id,
            7,
            tmp_path / "runs" / context.spec.run_id,
        )
        assert context.target is context.resources.target and context.bundled is context.resources.bundled
        assert context.journal is context.recorders.journal and context.store is context.recorders.store
        index = context.claim_index()
        record = context.converse(index)
        assert record.persona == context.persona_for(index).name and record.turns[0].reply_text == "ok"
        assert context.aggregate()["run"]["target"] == {"type": "demo", "url": stub.servers[0].url + "/v1"}
    finally:
        context.close()
    assert refused(stub.servers[0])
    assert read_journal(context.run_dir / "journal.jsonl")[0].session_id == record.session_id
