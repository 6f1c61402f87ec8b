"""The demo agents' bound on turns at once: a FIFO queue past the limit, set by settings, flag or env."""

import asyncio
import threading

import pytest

from convoload_demo.turnlimit import ENV, AsyncTurnLimit, ThreadTurnLimit, limit_from_env
from tests.helpers import wait_until


def test_the_environment_sets_the_limit(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert limit_from_env() is None
    monkeypatch.setenv(ENV, "8")
    assert limit_from_env() == 8
    from convoload_demo.faulty.settings import FaultyServerSettings
    from convoload_demo.realestate.assistant.settings import AssistantSettings
    from convoload_demo.tickets.settings import TicketServerSettings

    for settings in (TicketServerSettings, AssistantSettings, FaultyServerSettings):
        assert settings().max_concurrent_turns == 8, settings
    monkeypatch.setenv(ENV, "0")
    with pytest.raises(ValueError, match=f"{ENV} must be at least 1"):
        limit_from_env()
    monkeypatch.setenv(ENV, "many")
    with pytest.raises(ValueError, match="is not a whole number"):
        limit_from_env()


@pytest.mark.parametrize("server", ["tickets", "faulty", "realestate.assistant"])
def test_the_flag_round_trips_through_each_servers_command_line(server, monkeypatch):
    import importlib

    monkeypatch.delenv(ENV, raising=False)
    main = importlib.import_module(f"convoload_demo.{server}.__main__")
    extra = ["--catalog-url", "http://127.0.0.1:1"] if server == "realestate.assistant" else []
    args = main.build_parser().parse_args([*extra, "--max-concurrent-turns", "3"])
    settings = main.settings_from_args(args)
    assert settings.max_concurrent_turns == 3
    again = main.settings_from_args(main.build_parser().parse_args(settings.cli_args()))
    assert again.max_concurrent_turns == 3
    assert main.settings_from_args(main.build_parser().parse_args(extra)).max_concurrent_turns is None


def test_async_turns_past_the_limit_wait_their_place_in_order():
    async def scenario():
        limit = AsyncTurnLimit(2)
        release = asyncio.Event()
        entered: list[int] = []

        async def turn(i):
            async with limit.turn():
                entered.append(i)
                await release.wait()

        tasks = [asyncio.create_task(turn(i)) for i in range(5)]
        while len(entered) < 2 or limit.snapshot()["queued"] < 3:
            await asyncio.sleep(0)  # let every task reach the limit (no time passes)
        assert entered == [0, 1] and limit.snapshot()["in_service"] == 2
        release.set()
        await asyncio.gather(*tasks)
        return entered, limit.snapshot()

    entered, snapshot = asyncio.run(scenario())
    assert entered == [0, 1, 2, 3, 4], "first come, first served"
    assert snapshot == {"limit": 2, "in_service": 0, "queued": 0, "peak": 2, "served": 5, "waited": 3}


def test_a_cancelled_waiter_gives_its_place_on():
    async def scenario():
        limit = AsyncTurnLimit(1)
        release = asyncio.Event()

        async def turn():
            async with limit.turn():
                await release.wait()

        first, second, third = (asyncio.create_task(turn()) for _ in range(3))
        while limit.snapshot()["queued"] < 2:
            await asyncio.sleep(0)
        second.cancel()
        release.set()
        await asyncio.gather(first, third)
        assert second.cancelled()
        return limit.snapshot()

    snapshot = asyncio.run(scenario())
    assert snapshot["in_service"] == 0 and snapshot["served"] == 2


def test_threads_past_the_limit_wait():
    limit = ThreadTurnLimit(2)
    release = threading.Event()
    inside = threading.Semaphore(0)

    def turn():
        with limit.turn():
            inside.release()
            release.wait(10)

    threads = [threading.Thread(target=turn) for _ in range(5)]
    for thread in threads:
        thread.start()
    assert inside.acquire(timeout=10) and inside.acquire(timeout=10)
    wait_until(lambda: limit.snapshot()["queued"] == 3, "the other three turns queued")
    assert limit.snapshot()["in_service"] == 2 and not inside.acquire(blocking=False)
    release.set()
    for thread in threads:
        thread.join(10)
    snapshot = limit.snapshot()
    assert snapshot["peak"] == 2 and snapshot["served"] == 5 and snapshot["in_service"] == 0
    assert snapshot["waited"] >= 1


def test_no_limit_queues_nothing():
    limit = ThreadTurnLimit(None)
    with limit.turn(), limit.turn():
        assert limit.snapshot()["in_service"] == 2
    assert limit.snapshot()["waited"] == 0
