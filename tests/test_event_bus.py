"""The event bus: delivery by type and base type, in subscription order, after any (un)subscription."""

from convoload.events import Event, EventBus, TurnFailed, TurnSent


def test_handlers_get_their_type_and_base_subscribers_everything_in_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, str]] = []
    assert not bus.wants(TurnSent)
    bus.subscribe(Event, lambda e: seen.append(("all", type(e).__name__)))
    assert bus.wants(TurnSent) and bus.wants(TurnFailed)
    stop_sent = bus.subscribe(TurnSent, lambda e: seen.append(("sent", e.text)))
    bus.emit(TurnSent(session_id="s", persona="p", iteration=1, text="oi"))
    assert seen == [("sent", "oi"), ("all", "TurnSent")]  # the type's own handlers, then its bases'

    stop_sent()  # after a delivery: the next one must not reach it
    bus.emit(TurnSent(session_id="s", persona="p", iteration=2, text="tchau"))
    assert seen[2:] == [("all", "TurnSent")]
    bus.subscribe(TurnSent, lambda e: seen.append(("late", e.text)))  # and a new one must
    bus.emit(TurnSent(session_id="s", persona="p", iteration=3, text="de novo"))
    assert seen[3:] == [("late", "de novo"), ("all", "TurnSent")]


def test_a_failing_handler_is_skipped_and_the_others_still_run(caplog) -> None:
    bus = EventBus()
    seen: list[int] = []
    bus.subscribe(TurnSent, lambda e: 1 / 0)
    bus.subscribe(TurnSent, lambda e: seen.append(e.iteration))
    bus.emit(TurnSent(session_id="s", persona="p", iteration=7, text="x"))
    assert seen == [7] and "ZeroDivisionError" in caplog.text
