import pytest

from convoload.testing import assert_goal


@pytest.mark.convoload(personas=["kataryna", "talliz", "edman"])  # one test per persona
def test_every_customer_gets_a_payment_link(converse):
    record = converse()  # one conversation with the test's persona: its ConversationRecord
    assert_goal(record)  # on failure: the outcome, the reason and the whole transcript
    assert record.turns[-1].goal_evidence.startswith("https://pay.example.com/")


def test_a_closed_day_gets_the_next_open_one(converse):
    record = converse("talliz")  # she wants 20/11, when the park is closed
    asked = [t for t in record.turns if "20/11" in t.user_text]
    assert asked and "21/11" in asked[0].reply_text
