"""Open files for the conversations one process holds at once.

Each conversation in flight holds a client connection to the target, and with webhook callbacks the
connection the agent opens to our receiver as well; the run's own files (journal, results store, logs,
listening sockets, the LLM client's pool) come on top. Common defaults (a soft limit of 1,024) stop a
few hundred webhook conversations short, so the limit is raised here before the first conversation
starts: the soft limit up to the hard one, and the hard one too when the process may (root, or
CAP_SYS_RESOURCE); beyond that only the user (or the machine's administrator) can go.
"""

from __future__ import annotations

import resource

from convoload.errors import ConfigError

RESERVE = 256  # the run's own descriptors, whatever its size


def descriptors_needed(conversations: int, *, callbacks: bool) -> int:
    return RESERVE + conversations * (2 if callbacks else 1)


def ensure_open_files(conversations: int, *, callbacks: bool, source: str, field: str) -> int:
    """Raise this process's soft open-files limit to what `conversations` at once need; the limit now
    in force. A ConfigError naming `field` of `source` when the hard limit is too low for them."""
    needed = descriptors_needed(conversations, callbacks=callbacks)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:  # a privileged process (CAP_SYS_RESOURCE, as root in a container) may lift the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            pass
        raise ConfigError(
            source,
            field,
            f"{conversations:,} conversations at once need about {needed:,} open files, but this process "
            f"may open at most {hard:,} (its hard limit): raise it (`ulimit -Hn`, systemd LimitNOFILE, "
            "docker --ulimit nofile) or hold fewer conversations at once",
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


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
