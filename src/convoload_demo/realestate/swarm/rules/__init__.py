"""The offline rule-based brain of the real-estate swarm."""

from convoload_demo.realestate.swarm.rules.brain import RuleBasedBrain, sao_paulo_now

__all__ = ["RuleBasedBrain", "sao_paulo_now"]
