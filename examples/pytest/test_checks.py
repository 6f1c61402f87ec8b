"""Our own check on every conversation (conftest.py's `customer`) and a simulated user of our own."""

from convoload import Outcome, UserMessage
from convoload.testing import assert_outcome


def test_no_reply_keeps_a_customer_waiting(customer):
    record = customer("edman")
    assert not [f.message for f in record.findings if f.hook == "slow_replies"]


class OnlyHello:
    """A customer who says hello, then leaves."""

    stop_reason = None

    def next_message(self, turns):
        if turns:
            self.stop_reason = "just looking"
            return None
        return UserMessage("oi")


def test_a_customer_who_leaves_is_not_a_sale(customer):
    record = customer(user=lambda persona, identity, session: OnlyHello())
    assert_outcome(record, Outcome.USER_STOPPED)
    assert record.stop_reason == "just looking" and len(record.turns) == 1
