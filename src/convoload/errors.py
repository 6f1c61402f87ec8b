"""Every error convoload raises on purpose, in one tree (module in brackets, under convoload.).

    ConvoloadError                base of them all [errors]
    ├── InputError                the user must fix something: one line, exit 2 [errors]
    │   ├── ConfigError           a file or flag, and its field, holds a bad value [errors]
    │   │   ├── MissingDatabase   no SQLite file at the store URL [store.results.engine] +StoreError
    │   │   └── RunNotFound       no stored run has this id or id prefix [errors] +StoreError
    │   ├── TemplateError         a bad placeholder or URL template [targets.templating] +ValueError
    │   ├── SchemaVersionError    database from a newer convoload [store.results.migrations] +StoreError
    │   ├── ClusterError          master and workers cannot set up a run [load.cluster]
    │   └── IndexSpaceError       a worker's indices outrun the unique identities [load.placement]
    ├── TargetError               one turn failed, classified by ErrorKind [targets.base]
    ├── UserFailure               the simulated user produced no message [users.base]
    ├── ProviderError             one LLM provider failed one call [llm.types]
    ├── LLMUnavailable            every provider in the LLM chain failed [llm.types]
    ├── InvalidVerdict            the judge's answer misses its rubric's schema [judge.prompt] +ValueError
    ├── StoreError                the results store cannot do what was asked [errors]
    │   └── StoreUnavailable      the dashboard cannot read the store yet [monitor.dashboard.app]
    ├── ChannelError              an alert channel did not deliver [monitor.alerts.channels]
    ├── ShipmentError             a worker's records shipment the master refuses [load.shipping] +ValueError
    ├── TurnFailure               a failed turn in Locust's statistics, never raised [load.locust_bridge]
    ├── ConversationFailure       a failed conversation in Locust's statistics [load.locust_bridge]
    └── ConversationFailed        a test's assertion on a conversation failed [testing] +AssertionError

`+Name` marks a second base: the class is caught as that too (a store error that is also bad
input; a ValueError that pydantic validators turn into a config error).

Only the InputError branch is bad input: `convoload` (cli.main) and a Locust process at setup print
it as one line and exit 2. The other branches are faults of the target, the LLM, the store or an
alert channel: a run counts and reports them, and they never become exit code 2.
tests/test_errors.py checks this tree against the code.
"""

from __future__ import annotations


class ConvoloadError(Exception):
    """Base of every error convoload raises on purpose; only `InputError` means bad input."""


class InputError(ConvoloadError):
    """The user must fix something before the run can go on; reported as one line, exit code 2."""


class StoreError(ConvoloadError):
    """The results store cannot do what was asked."""


class ConfigError(InputError):
    """A config or persona file is unreadable or invalid.

    `source` names the file, `field` the dotted path inside it (empty when the
    whole file is at fault), so the message alone says where to look.
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class RunNotFound(ConfigError, StoreError):
    """No stored run has this id, nor a unique id prefix of it. `where` is the store's URL, no password."""

    def __init__(self, run_id: str, where: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r}", "", f"not found in {where}")


def pydantic_error_to_config_error(source: str, exc: Exception, prefix: str = "") -> ConfigError:
    """Reduce a pydantic ValidationError to its first problem, as a ConfigError."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return ConfigError(source, prefix, str(exc))
    first = errors()[0]
    parts = [prefix] if prefix else []
    parts += [str(p) for p in first.get("loc", ())]
    field = ".".join(p for p in parts if p)
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    return ConfigError(source, field, message)
