"""Workers' conversation indices: slices of a fixed number (the conversations one process plays), or
disjoint blocks, so personas and identities stay unique across workers."""

import pytest

from convoload.config import Config
from convoload.identity import IdentityFactory
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.load.placement import (
    IndexSpaceError,
    Placement,
    conversation_slice,
    index_block,
    index_slice,
)
from convoload.store.journal import read_journal
from tests.helpers import free_consecutive_ports


def test_blocks_are_disjoint_and_bounded_by_the_unique_identities():
    assert index_block(0, 1000) == (0, 1000)
    assert index_block(2, 1000) == (2000, 3000)
    last = IdentityFactory.capacity // 1_000_000 - 1
    assert index_block(last, 1_000_000)[1] == IdentityFactory.capacity
    with pytest.raises(IndexSpaceError, match="worker_index_block"):
        index_block(last + 1, 1_000_000)


@pytest.mark.parametrize(("conversations", "workers"), [(12, 2), (7, 2), (10, 3), (2, 3), (0, 2), (1, 1)])
def test_slices_of_a_fixed_number_cover_it_once_in_order(conversations, workers):
    slices = [conversation_slice(k, conversations, workers) for k in range(workers)]
    assert [i for first, stop in slices for i in range(first, stop)] == list(range(conversations))
    shares = [stop - first for first, stop in slices]
    assert max(shares) - min(shares) <= 1 and shares == sorted(shares, reverse=True)  # the first get more
    assert conversation_slice(workers, conversations, workers) == (conversations, conversations)  # beyond


def test_a_slice_stays_within_the_unique_identities():
    assert index_slice(4, 8) == (4, 8)
    with pytest.raises(IndexSpaceError):
        index_slice(0, IdentityFactory.capacity + 1)
    with pytest.raises(ValueError):
        index_slice(5, 4)


def test_identities_of_two_workers_never_collide():
    """Same seed (the master's), different blocks: no CPF, phone or e-mail appears twice."""
    factory = IdentityFactory(42)
    block = 1_000_000
    indices = [w * block + i for w in (0, 1) for i in (*range(1500), block - 2, block - 1)]
    people = [factory.identity(i) for i in indices]
    for field in ("cpf_digits", "phone_digits", "email"):
        values = [getattr(p, field) for p in people]
        assert len(set(values)) == len(values), field
    # Without blocks both workers would start at index 0 with the same seed: the same customers.
    assert factory.identity(0) == IdentityFactory(42).identity(0)


def placed_context(tmp_path, worker_index, block=3, **target):
    config = Config.model_validate(
        {
            "run": {"seed": 9, "runs_dir": str(tmp_path / "runs"), "worker_index_block": block},
            "target": target or {"type": "python", "function": "convoload_demo.tickets.inprocess:reply"},
        }
    )
    first, stop = index_block(worker_index, block)
    placement = Placement(run_id="run1", worker_index=worker_index, first_index=first, stop_index=stop)
    return RunContext(config, placement=placement)


def test_a_placed_worker_uses_its_block_and_then_starts_no_more_conversations(tmp_path):
    context = placed_context(tmp_path, worker_index=1)
    try:
        run_load(context, conversations=5, concurrency=2)  # only 3 indices in the block
        document = context.aggregate()
    finally:
        context.close()
    assert context.run_id == "run1-w1"
    assert context.run_dir == tmp_path / "runs" / "run1" / "worker-1"
    records = read_journal(context.run_dir / "journal.jsonl")
    assert sorted(r.user_id for r in records) == [4, 5, 6]  # indices 3, 4, 5
    # Its records carry the run's id; the master writes them to the results store, not the worker.
    assert {r.run_id for r in records} == {"run1"} and context.store is None
    assert not (tmp_path / "runs" / "results.sqlite").exists()
    assert document["summary"]["total_conversations"] == 3
    assert document["run"]["cluster"] == {
        "run_id": "run1",
        "worker_index": 1,
        "index_range": [3, 6],
        "forwarded_callbacks": False,
    }
    with pytest.raises(IndexSpaceError):
        context.claim_index()


def test_workers_on_one_machine_get_receiver_ports_and_urls_of_their_own(tmp_path):
    base = free_consecutive_ports(2)
    receiver = {"port": base, "public_url": "http://{host}:{port}/worker-{worker_index}"}
    target = {"type": "webhook", "url": "http://127.0.0.1:9/chat", "receiver": receiver}
    contexts = [placed_context(tmp_path, k, **target) for k in (0, 1)]
    try:
        ports = [c.target.receiver.port for c in contexts]
        urls = [c.target.receiver.callback_url("s", 1) for c in contexts]
    finally:
        for c in contexts:
            c.close()
    assert ports == [base, base + 1]
    assert urls[1].startswith(f"http://127.0.0.1:{base + 1}/worker-1/cb/")
