"""Each installed hook (built in, or the demo pack's) on crafted conversations: it fires when it should and
stays quiet otherwise; the config and the installed packs choose which hooks a run uses."""

import pytest

from convoload.config import Config
from convoload.errors import ConfigError
from convoload.events import (
    AgentChanged,
    ConversationFinished,
    ConversationStarted,
    EventBus,
    LLMFallback,
    ReplyReceived,
    TurnFailed,
)
from convoload.hooks import HOOKS
from convoload.hooks.base import Hook, HookRunner
from convoload.hooks.builtin import BUILTIN_HOOKS
from convoload.hooks.factory import build_hooks, installed_hooks
from convoload.model import ConversationRecord, ErrorKind, Outcome, TurnError, TurnRecord

INSTALLED = installed_hooks(Config())

IDS = {"session_id": "s1", "persona": "Renata"}


def turn(i, user="oi", reply="Olá! Como posso ajudar você hoje?", latency=800.0, agent="triagem"):
    return TurnRecord(
        iteration=i, user_text=user, sent_at="", reply_text=reply, agent=agent, latency_ms=latency
    )


def run_hook(name, events, turns=(), **thresholds):
    bus = EventBus()
    HookRunner(bus, [INSTALLED[name](**thresholds)])
    record = ConversationRecord(
        run_id="r",
        session_id="s1",
        user_id=1,
        persona="Renata",
        started_at="",
        turns=list(turns),
        outcome=Outcome.GOAL_REACHED,
    )
    bus.emit(ConversationStarted(**IDS, user_id=1))
    for event in events:
        bus.emit(event)
    bus.emit(ConversationFinished(**IDS, record=record))
    return record.findings


def replies(*turns_, raw=None):
    return [ReplyReceived(**IDS, turn=t, raw=raw) for t in turns_]


def test_agent_transitions():
    found = run_hook(
        "agent_transitions", [AgentChanged(**IDS, iteration=2, previous="triagem", current="busca")]
    )
    assert [(f.message, f.priority, f.iteration) for f in found] == [("triagem → busca", "critical", 2)]
    assert run_hook("agent_transitions", []) == []
    many = [turn(i, agent=a) for i, a in enumerate(["a", "b", "a", "b"], start=1)]
    excessive = run_hook("agent_transitions", [], turns=many, max_per_conversation=2)
    assert excessive[-1].data == {"changes": 3, "excessive": True}


def test_slow_responses():
    assert run_hook("slow_responses", replies(turn(1, latency=4_999))) == []
    found = run_hook("slow_responses", replies(turn(1, latency=5_001), turn(2, latency=12_000)))
    assert [f.iteration for f in found] == [1, 2] and found[0].priority == "critical"
    assert len(run_hook("slow_responses", replies(turn(1, latency=1_500)), seconds=1)) == 1


def test_error_responses():
    failed = TurnFailed(
        **IDS,
        iteration=3,
        error=TurnError(kind=ErrorKind.HTTP_STATUS, message="HTTP 500", status_code=500),
        turn=turn(3),
    )
    found = run_hook("error_responses", [failed])
    assert found[0].data == {"kind": "http_status", "status_code": 500}
    worded = run_hook(
        "error_responses", replies(turn(1, reply="Desculpe, ocorreu um erro. Tente novamente mais tarde."))
    )
    assert worded[0].message == "the reply reads like an error message"
    assert run_hook("error_responses", replies(turn(1))) == []


def test_ollama_fallbacks_on_both_sides():
    simulator = [
        LLMFallback(
            **IDS, from_provider="openrouter/gemma", to_provider="ollama/gemma3n:e2b", reason="rate_limited"
        )
    ]
    assert run_hook("ollama_fallbacks", simulator)[0].data["side"] == "simulator"
    other = [LLMFallback(**IDS, from_provider="gemini/x", to_provider="openai/y", reason="timeout")]
    assert run_hook("ollama_fallbacks", other) == []
    agent_raw = {
        "reply": "ok",
        "events": [{"type": "LLMCall", "provider": "ollama", "model": "gemma3n:e2b", "fallback_used": True}],
    }
    found = run_hook("ollama_fallbacks", replies(turn(1), raw=agent_raw))
    assert found[0].data["side"] == "agent" and found[0].data["provider"] == "ollama"
    no_fallback = {"events": [{"type": "LLMCall", "provider": "openrouter", "fallback_used": False}]}
    assert run_hook("ollama_fallbacks", replies(turn(1), raw=no_fallback)) == []


def test_price_discussions():
    found = run_hook(
        "price_discussions",
        replies(
            turn(
                1,
                user="qual o valor do condomínio?",
                reply="O condomínio é R$ 650 e o IPTU R$ 1.200 por ano.",
            )
        ),
    )
    assert found[0].data["amounts"] == ["R$ 650", "R$ 1.200"] and found[0].data["asked_by_user"]
    assert run_hook("price_discussions", replies(turn(1, user="oi", reply="Olá! Em que cidade?"))) == []


def test_scheduling_and_property_inquiries():
    assert len(run_hook("scheduling_requests", replies(turn(1, user="quero agendar uma visita")))) == 1
    assert run_hook("scheduling_requests", replies(turn(1, user="oi"))) == []
    assert len(run_hook("property_inquiries", replies(turn(1, user="how many bedrooms does it have?")))) == 1
    assert run_hook("property_inquiries", replies(turn(1, user="obrigado!"))) == []


def test_configured_words_match_whole_words_and_phrases_ignoring_accents_and_case():
    words = {"words": ["Preço", "quanto custa", "IPTU"]}
    asked = ["qual o PRECO?", "quanto custa?", "o iptu-2026", "Preço: ?"]
    for text in asked:
        assert run_hook("price_discussions", replies(turn(1, user=text, reply="Olá!")), **words), text
    for text in ["os precos", "quanto custaria", "iptus", "precoce", "custa quanto"]:
        assert run_hook("price_discussions", replies(turn(1, user=text, reply="Olá!")), **words) == [], text
    assert run_hook("price_discussions", replies(turn(1, user="preço", reply="Olá!")), words=[]) == []


def test_short_and_fast_responses():
    assert run_hook("short_responses", replies(turn(1, reply="ok")))[0].data["reply"] == "ok"
    assert run_hook("short_responses", replies(turn(1))) == []
    assert run_hook("fast_responses", replies(turn(1, latency=800.0))) == []
    turns = [turn(1, latency=12.0), turn(2, latency=800.0), turn(3, latency=5.0)]
    (found,) = run_hook("fast_responses", replies(*turns), turns=turns)  # one per conversation
    assert found.iteration == 3 and found.message == "2 of 3 replies under 100 ms (fastest 5.0 ms, turn 3)"
    assert found.data == {"count": 2, "replies": 3, "iterations": [1, 3], "fastest_ms": 5.0}
    assert run_hook("fast_responses", replies(*turns), turns=turns, ms=10)[0].data["iterations"] == [3]


def test_engaged_users():
    assert run_hook("engaged_users", [], turns=[turn(i) for i in range(1, 9)])[0].data["turns"] == 8
    assert run_hook("engaged_users", [], turns=[turn(i) for i in range(1, 8)]) == []


def test_a_failing_hook_never_breaks_the_conversation():
    class Broken(Hook):
        name = "broken"

        def on_reply(self, ctx, turn, raw):
            raise RuntimeError("bug in a user's hook")

    bus = EventBus()
    HookRunner(bus, [Broken(), BUILTIN_HOOKS["short_responses"]()])
    bus.emit(ConversationStarted(**IDS, user_id=1))
    bus.emit(ReplyReceived(**IDS, turn=turn(1, reply="ok")))
    record = ConversationRecord(run_id="r", session_id="s1", user_id=1, persona="Renata", started_at="")
    bus.emit(ConversationFinished(**IDS, record=record))
    assert [f.hook for f in record.findings] == ["short_responses"]


def count_long_replies(event, report):
    if isinstance(event, ReplyReceived) and len(event.turn.reply_text or "") > 10:
        report("long reply", iteration=event.turn.iteration)


def test_config_selects_tunes_and_extends_hooks():
    config = Config.model_validate(
        {
            "hooks": {
                "disabled": ["fast_responses"],
                "thresholds": {"slow_responses": {"seconds": 2}},
                "custom": ["tests.test_hooks:count_long_replies"],
            }
        }
    )
    hooks = build_hooks(config)
    names = [h.name for h in hooks]
    assert "fast_responses" not in names and names[-1] == "count_long_replies" and len(names) == 10
    assert next(h for h in hooks if h.name == "slow_responses").settings["seconds"] == 2
    bus = EventBus()
    HookRunner(bus, hooks)
    bus.emit(ConversationStarted(**IDS, user_id=1))
    bus.emit(ReplyReceived(**IDS, turn=turn(1, latency=2_500)))
    record = ConversationRecord(run_id="r", session_id="s1", user_id=1, persona="Renata", started_at="")
    bus.emit(ConversationFinished(**IDS, record=record))
    assert {"slow_responses", "count_long_replies"} <= {f.hook for f in record.findings}
    assert build_hooks(Config.model_validate({"hooks": {"enabled": False}})) == []


@pytest.mark.parametrize(
    ("hooks", "field"),
    [
        ({"disabled": ["nope"]}, "hooks.disabled[0]"),
        ({"thresholds": {"slow_responses": {"minutes": 1}}}, "hooks.thresholds.slow_responses"),
        ({"thresholds": {"nope": {}}}, "hooks.thresholds.nope"),
        ({"custom": ["no.such.module:hook"]}, "hooks.custom[0]"),
        ({"custom": ["nope"]}, "hooks.custom[0]"),
        ({"thresholds": {"price_discussions": {"words": "preço"}}}, "hooks.thresholds.price_discussions"),
    ],
)
def test_bad_hook_config_names_the_field(hooks, field):
    with pytest.raises(ConfigError) as info:
        build_hooks(Config.model_validate({"hooks": hooks}))
    assert info.value.field == field
    if "nope" in str(hooks):  # an unknown name: the message lists what is installed, the packs' too
        assert "'nope'" in info.value.message and "slow_responses" in info.value.message
        assert "property_inquiries" in info.value.message and "\n" not in str(info.value)


def test_the_agent_side_of_ollama_fallbacks_comes_from_the_pack():
    agent_raw = {"events": [{"type": "LLMCall", "provider": "ollama", "model": "m", "fallback_used": True}]}
    bus = EventBus()
    generic, extended = BUILTIN_HOOKS["ollama_fallbacks"](), INSTALLED["ollama_fallbacks"]()
    assert type(extended) is not type(generic) and isinstance(extended, type(generic))
    HookRunner(bus, [generic])
    bus.emit(ConversationStarted(**IDS, user_id=1))
    bus.emit(ReplyReceived(**IDS, turn=turn(1), raw=agent_raw))
    record = ConversationRecord(run_id="r", session_id="s1", user_id=1, persona="Renata", started_at="")
    bus.emit(ConversationFinished(**IDS, record=record))
    assert record.findings == [], "convoload itself reads no agent's private event format"
    # The pack's subclass takes the built-in one's place: same name, same slot, same thresholds.
    names = [h.name for h in build_hooks(Config())]
    assert names.count("ollama_fallbacks") == 1 and names.index("ollama_fallbacks") == 3
    tuned = Config.model_validate(
        {"hooks": {"thresholds": {"ollama_fallbacks": {"local_provider_pattern": "x"}}}}
    )
    (hook,) = [h for h in build_hooks(tuned) if h.name == "ollama_fallbacks"]
    assert type(hook) is INSTALLED["ollama_fallbacks"] and hook.settings["local_provider_pattern"] == "x"


# -- hooks of third-party packs --------------------------------------------------------------------


class ToppingRequests(Hook):
    """A third party's hook about its own domain, with a threshold."""

    name = "topping_requests"
    priority = "business"
    domains = frozenset({"pizza"})
    defaults = {"word": "calabresa"}  # noqa: RUF012

    def on_reply(self, ctx, turn, raw):
        if self.settings["word"] in turn.user_text:
            ctx.report("topping asked", iteration=turn.iteration)


@pytest.fixture
def registered():
    """Register hooks in-process (as an installed pack's entry points would), and forget them after."""
    names = []

    def register(name, cls):
        HOOKS.register(name, cls)
        names.append(name)

    yield register
    for name in names:
        HOOKS.unregister(name)


def test_a_registered_hook_joins_the_runs_of_its_domain(registered):
    registered("topping_requests", ToppingRequests)
    assert "topping_requests" in built({"pizza"}) and "topping_requests" not in built({"tickets"})
    assert "topping_requests" in built({"tickets"}, custom=["topping_requests"])  # by name, any domain
    assert "topping_requests" not in built({"pizza"}, disabled=["topping_requests"])
    hooks = build_hooks(
        Config.model_validate({"hooks": {"thresholds": {"topping_requests": {"word": "atum"}}}})
    )
    (topping,) = [h for h in hooks if h.name == "topping_requests"]
    assert topping.settings == {"word": "atum"}
    with pytest.raises(ConfigError) as info:
        build_hooks(Config.model_validate({"hooks": {"any_domain": ["toping_requests"]}}))
    assert "topping_requests" in info.value.message, "the message lists the registered hooks too"
    # In order of priority, the packs' after the built-in ones of the same priority, custom ones last.
    names = [
        h.name
        for h in build_hooks(
            Config.model_validate({"hooks": {"custom": ["tests.test_hooks:count_long_replies"]}})
        )
    ]
    assert names == [
        "agent_transitions",
        "slow_responses",
        "error_responses",
        "ollama_fallbacks",
        "short_responses",
        "price_discussions",
        "property_inquiries",
        "scheduling_requests",
        "topping_requests",
        "fast_responses",
        "engaged_users",
        "count_long_replies",
    ]


def test_a_registered_hook_must_be_named_as_registered_and_extend_what_it_replaces(registered):
    registered("toppings", ToppingRequests)
    with pytest.raises(ConfigError) as info:
        build_hooks(Config())
    assert info.value.field == "hooks" and "'toppings'" in info.value.message
    assert "'topping_requests'" in info.value.message
    HOOKS.unregister("toppings")

    class NotASlowHook(Hook):
        name = "slow_responses"

    registered("slow_responses", NotASlowHook)
    with pytest.raises(ConfigError) as info:
        build_hooks(Config())
    assert "does not extend" in info.value.message
    with pytest.raises(ValueError):
        HOOKS.register("broken", count_long_replies)  # a function is no registered hook


def test_each_event_reaches_only_the_hooks_that_implement_its_method():
    calls = []

    class Replies(Hook):
        name = "replies"

        def on_reply(self, ctx, turn, raw):
            calls.append(("reply", turn.iteration))

    class Ends(Hook):
        name = "ends"

        def on_conversation_end(self, ctx, record):
            calls.append(("end", record.session_id))

    class Inherits(Replies):
        name = "inherits"

    bus = EventBus()
    HookRunner(bus, [Ends(), Replies(), Inherits()])
    bus.emit(ConversationStarted(session_id="s", persona="p", user_id=1, identity={}))
    bus.emit(
        ReplyReceived(session_id="s", persona="p", turn=TurnRecord(iteration=3, user_text="oi", sent_at="t"))
    )
    bus.emit(
        ReplyReceived(
            session_id="unknown", persona="p", turn=TurnRecord(iteration=4, user_text="oi", sent_at="t")
        )
    )
    assert calls == [("reply", 3), ("reply", 3)]


# -- hooks and the run's domain ------------------------------------------------------------------------

REAL_ESTATE_ONLY = {"property_inquiries", "scheduling_requests"}


def built(domains, **hooks):
    return {h.name for h in build_hooks(Config.model_validate({"hooks": hooks}), domains)}


def test_real_estate_hooks_run_only_where_the_run_is_about_real_estate():
    everything = set(INSTALLED)
    assert {name for name, cls in INSTALLED.items() if cls.domains} == REAL_ESTATE_ONLY
    assert built({"tickets"}) == everything - REAL_ESTATE_ONLY
    assert built({"realestate"}) == everything == built({"tickets", "realestate"}) == built(None)
    assert built({"tickets"}, any_domain=["property_inquiries"]) == everything - {"scheduling_requests"}
    assert "property_inquiries" not in built(
        {"realestate"}, any_domain=["property_inquiries"], disabled=["property_inquiries"]
    )


def test_any_domain_names_are_checked_and_off_domain_thresholds_too():
    with pytest.raises(ConfigError) as info:
        build_hooks(Config.model_validate({"hooks": {"any_domain": ["property_inquires"]}}), {"tickets"})
    assert info.value.field == "hooks.any_domain[0]" and "property_inquires" in info.value.message
    bad = {"thresholds": {"property_inquiries": {"word": ["casa"]}}}
    with pytest.raises(ConfigError) as info:
        build_hooks(Config.model_validate({"hooks": bad}), {"tickets"})
    assert info.value.field == "hooks.thresholds.property_inquiries"


# A park-ticket customer who asks about parking spaces ("vaga"), the park's area ("área") and a guided
# visit uses words the real-estate hooks listen for.
PARK_VISITOR = [
    "Oi! Quero ingressos para 12/12, 2 adultos.",
    "Tem vaga de estacionamento? E qual a área do parque?",
    "Dá para agendar uma visita guiada?",
]
HOME_SEEKER = [
    "Oi! Quero alugar um apartamento de 2 quartos em Curitiba.",
    "Aceita pet? Tem vaga de garagem?",
    "Quero agendar uma visita.",
]


def findings_of_a_run(tmp_path, agent, script, **hooks):
    from collections import Counter

    from convoload.load.context import RunContext
    from convoload.load.engine import run_load
    from convoload.store.journal import read_journal

    options = {"tickets": {"reply_delay_s": 0.0, "jitter_s": 0.0}, "realestate": {"listings": 200}}
    demo = {"agent": agent, **options[agent]}
    config = Config.model_validate(
        {
            "run": {"seed": 3, "runs_dir": str(tmp_path / agent), "max_iterations": len(script)},
            "user": {"type": "fixed", "scripts": [script]},
            "target": {"type": "demo", "demo": demo},
            "hooks": hooks,
        }
    )
    context = RunContext(config)
    try:
        run_load(context, 2, 2)
    finally:
        context.close()
    records = read_journal(context.run_dir / "journal.jsonl")
    assert len(records) == 2 and all(r.iterations == len(script) for r in records)
    return Counter(f.hook for r in records for f in r.findings)


@pytest.mark.e2e
def test_a_ticket_run_records_no_real_estate_findings(tmp_path):
    found = findings_of_a_run(tmp_path, "tickets", PARK_VISITOR)
    assert not REAL_ESTATE_ONLY & set(found), found
    assert found, "the other hooks watch the run as before"


@pytest.mark.slow
@pytest.mark.e2e
def test_a_real_estate_run_records_them(tmp_path):
    found = findings_of_a_run(tmp_path, "realestate", HOME_SEEKER)
    assert found["property_inquiries"] >= 2 and found["scheduling_requests"] >= 2, found


@pytest.mark.e2e
def test_any_domain_switches_a_real_estate_hook_on_for_a_ticket_run(tmp_path):
    found = findings_of_a_run(tmp_path, "tickets", PARK_VISITOR, any_domain=["property_inquiries"])
    assert found["property_inquiries"] == 2 and "scheduling_requests" not in found, found
