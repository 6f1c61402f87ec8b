"""A config built in code, with a goal, a simulated user and a persona of our own (run it as a script)."""

from pathlib import Path

import convoload
from convoload import Config, UserMessage


def bakery(text, session, iteration):
    """A python target: the reply to each message (a real agent would be an HTTP or webhook one)."""
    if "croissant" in text:
        return f"Order confirmed: {text}. Pay at https://pay.example.com/{session.session_id}"
    return "Hi! What would you like?"


def order_confirmed(reply):
    """A goal of our own: true (or the evidence, a string) when the customer got what they came for."""
    return "order confirmed" in reply.lower() and reply


class Customer:
    """A simulated user of our own: it orders what its persona's facts say, then leaves."""

    def __init__(self, persona):
        self.lines = ["hello", f"{persona.facts['quantity']} {persona.facts['item']}s, please"]
        self.stop_reason = None

    def next_message(self, turns):  # every turn so far, the agent's replies included
        if len(turns) < len(self.lines):
            return UserMessage(self.lines[len(turns)])
        self.stop_reason = "nothing more to ask"
        return None


config = Config.model_validate(  # or convoload.load_config("convoload.yaml"): the same, from a file
    {
        "run": {"seed": 3, "runs_dir": "runs"},
        # Our `customer` below plays every conversation; scripted users would need a playbook for
        # the persona (see "A scripted user for your domain"), fixed ones need none.
        "user": {"type": "fixed", "scripts": [["hello"]]},
        "personas": [str(Path(__file__).with_name("bia.yaml"))],  # a persona file of our own
        "target": {"type": "python", "function": "__main__:bakery"},
        "goal": {"type": "python", "function": "__main__:order_confirmed"},
    }
)


def customer(persona, identity, session):
    return Customer(persona)


record = convoload.converse(config, user=customer)  # one conversation, its whole record
assert record.goal_reached and record.persona == "Bia", record.outcome
print([turn.user_text for turn in record.turns], record.turns[-1].goal_evidence)

report = convoload.run(config, conversations=4, concurrency=2, user=customer)
print(report.grade, report.success_rate, report.run_dir)  # the run's folder: journal, aggregate, report.html
for conversation in report.iter_conversations():  # each conversation's summary, read from the journal
    assert conversation.goal_reached and conversation.iterations == 2
assert (report.run_dir / "aggregate.json").exists() and (report.run_dir / "report.html").exists()
