"""Open files for the conversations one process holds at once.

Each conversation in flight holds a client connection to the target, and with webhook callbacks the
connection the agent opens to our receiver as well; the run's own files (journal, results store, logs,
listening sockets, the LLM client's pool) come on top. Common defaults (a soft limit of 1,024) stop a
few hundred webhook conversations short, so the limit is raised here before the first conversation
starts: the soft limit up to the hard one, and the hard one too when the process may (root, or
CAP_SYS_RESOURCE); beyond that only the user (or the machine's administrator) can go.
"""

from __future__ import annotations

import logging
import resource

from convoload.errors import ConfigError

RESERVE = 256  # the run's own descriptors, whatever its size
log = logging.getLogger(__name__)


def descriptors_needed(conversations: int, *, callbacks: bool) -> int:
    """At most: a client connection per conversation, and with callbacks one the agent opens to us."""
    return RESERVE + conversations * (2 if callbacks else 1)


def ensure_open_files(conversations: int, *, callbacks: bool, source: str, field: str) -> int:
    """Raise this process's open-files limit towards what `conversations` at once may need; the limit now
    in force.

    Every conversation surely holds its client connection: a hard limit below that (and no privilege
    to lift it) is a ConfigError naming `field` of `source`. The agent's callback connections are
    counted one per conversation (the most an agent opens; platforms that deliver through a pool open
    far fewer): a limit that stops short of that is raised as far as it goes, with a warning.
    """
    wanted = descriptors_needed(conversations, callbacks=callbacks)
    surely = descriptors_needed(conversations, callbacks=False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return wanted
    try:  # a privileged process (CAP_SYS_RESOURCE) may lift the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        return wanted
    except (ValueError, OSError):
        pass
    if hard < surely:
        raise ConfigError(
            source,
            field,
            f"{conversations:,} conversations at once need at least {surely:,} open files, but this "
            f"process may open at most {hard:,} (its hard limit): raise it (`ulimit -Hn`, systemd "
            "LimitNOFILE, docker --ulimit nofile) or hold fewer conversations at once",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log.warning(
        "open files: %s conversations at once may need up to %s (an agent that opens a callback "
        "connection per conversation); this process may open %s: callbacks beyond that would be refused",
        f"{conversations:,}",
        f"{wanted:,}",
        f"{hard:,}",
    )
    return hard


def raise_to_hard_limit() -> int:
    """The soft limit raised to the hard one (a Locust worker, whose user count only its master knows);
    the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # a platform that refuses: the run goes on with what it has
            return soft
        return hard
    return soft
