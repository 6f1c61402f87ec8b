"""What the example tests share: `customer`, the plugin's `converse` with a check of our own."""

import pytest

from convoload import Hook


class SlowReplies(Hook):
    """Notes every reply that took longer than a customer would wait in a chat."""

    name = "slow_replies"
    priority = "critical"
    seconds = 2.0

    def on_reply(self, ctx, turn, raw):
        if turn.latency_ms is not None and turn.latency_ms > self.seconds * 1000:
            ctx.report(f"{turn.latency_ms:.0f} ms", iteration=turn.iteration)


@pytest.fixture
def customer(converse):
    """`converse`, with our check on every conversation."""

    def talk(persona=None, **keywords):
        return converse(persona, hooks=[SlowReplies()], **keywords)

    return talk
