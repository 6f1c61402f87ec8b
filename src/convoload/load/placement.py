"""Where one Locust worker sits in a distributed run, and the conversation indices it may use.

A conversation's persona and identity are functions of (seed, conversation index), and identities
are one-to-one in the index (see convoload.identity.generator). Every worker gets the master's
seed and a block of indices of its own — worker k uses [k·block, (k+1)·block) — so personas and
identities are unique across workers by construction, with no coordination per conversation and
whatever the number of workers (Locust numbers workers 0, 1, 2… as they connect, and a worker that
reconnects keeps its number). Blocks rather than interleaving (k, k+W, k+2W…) keep round-robin
persona assignment balanced on every worker and need no worker count.
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
