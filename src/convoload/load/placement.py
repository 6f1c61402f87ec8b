"""Where one Locust worker sits in a distributed run, and the conversation indices it may use.

A conversation's persona and identity are functions of (seed, conversation index), and identities
are one-to-one in the index (see convoload.identity.generator). Every worker gets the master's seed
and indices of its own, so personas and identities are unique across workers by construction, with
no coordination per conversation:

- a run of a fixed number N of conversations: worker k plays the contiguous slice
  [offset_k, offset_k + share_k) of [0, N), its share after those of the workers before it (the
  master's MasterHub.indices). The distributed run then plays exactly the conversations a single
  process with the same seed plays (indices 0..N-1);
- a run until stopped: worker k uses the block [k·block, (k+1)·block), whatever the number of
  workers (Locust numbers workers 0, 1, 2… as they connect, and a worker that reconnects keeps its
  number). Blocks rather than interleaving (k, k+W, k+2W…) keep round-robin persona assignment
  balanced on every worker and need no worker count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convoload.errors import InputError
from convoload.identity import IdentityFactory


class IndexSpaceError(InputError):
    """A worker's block of conversation indices does not fit the unique identities there are."""


@dataclass(frozen=True)
class Placement:
    run_id: str  # the distributed run's id (the master's)
    worker_index: int
    first_index: int
    stop_index: int  # exclusive
    callback_base: str | None = None  # the master's forwarding address for this worker, if it forwards
    conversations: int | None = None  # this worker's share of a fixed number (None: until stopped)

    @property
    def worker_run_id(self) -> str:
        return f"{self.run_id}-w{self.worker_index}"

    def run_dir(self, runs_dir: Path) -> Path:
        """runs/<run id>/worker-<k>: on one machine, next to the master's aggregate of the same run."""
        return runs_dir / self.run_id / f"worker-{self.worker_index}"

    def meta(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "worker_index": self.worker_index,
            "index_range": [self.first_index, self.stop_index],
            "forwarded_callbacks": self.callback_base is not None,
        }


def index_block(worker_index: int, block: int) -> tuple[int, int]:
    """Worker `worker_index`'s conversation indices [first, stop); an error when identities would repeat."""
    if worker_index < 0 or block < 1:
        raise ValueError("worker index must be >= 0 and the block >= 1")
    first, stop = worker_index * block, (worker_index + 1) * block
    if stop > IdentityFactory.capacity:
        raise IndexSpaceError(
            f"worker {worker_index} would use conversation indices up to {stop:,}, but only "
            f"{IdentityFactory.capacity:,} identities are unique; lower run.worker_index_block "
            f"({block:,}) so that (workers × block) stays within that"
        )
    return first, stop


def conversation_slice(worker_index: int, conversations: int, workers: int) -> tuple[int, int]:
    """Worker `worker_index`'s slice [first, stop) of `conversations` among `workers` expected ones:
    an even share (the first `conversations mod workers` one more) after the shares of the workers
    before it; empty for a worker beyond those expected (they already hold every conversation)."""
    if worker_index < 0 or conversations < 0 or workers < 1:
        raise ValueError("worker index and conversations must be >= 0, workers >= 1")
    if worker_index >= workers:
        return conversations, conversations
    base, extra = divmod(conversations, workers)
    first = worker_index * base + min(worker_index, extra)
    return first, first + base + (1 if worker_index < extra else 0)


def index_slice(first: int, stop: int) -> tuple[int, int]:
    """A worker's slice [first, stop) of a fixed number of conversations; an error when identities
    would repeat."""
    if not 0 <= first <= stop:
        raise ValueError("a slice of conversation indices needs 0 <= first <= stop")
    if stop > IdentityFactory.capacity:
        raise IndexSpaceError(
            f"conversation indices up to {stop:,} were asked for, but only "
            f"{IdentityFactory.capacity:,} identities are unique"
        )
    return first, stop
