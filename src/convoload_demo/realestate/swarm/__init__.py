"""A small multi-agent loop for the real-estate demo, in the spirit of openai/swarm.

Four agents (``triagem``, ``busca``, ``imovel``, ``agendamento``) share one conversation; a brain (rules
offline, or an LLM through the provider chain) decides each step; handoffs are ``transfer_to_<agent>``
tool calls. Everything a turn does is reported as :mod:`events <convoload_demo.realestate.swarm.events>`.
"""

from convoload_demo.realestate.swarm.agents import AGENDAMENTO, BUSCA, IMOVEL, TRIAGEM, Agent, build_agents
from convoload_demo.realestate.swarm.brain import Brain, BrainDecision, BrainTurn, LLMUsage
from convoload_demo.realestate.swarm.events import (
    AgentStarted,
    Handoff,
    LLMCall,
    MessageOutput,
    SwarmEvent,
    ToolCalled,
    ToolResult,
)
from convoload_demo.realestate.swarm.llm_brain import LLMBrain
from convoload_demo.realestate.swarm.orchestrator import SwarmOrchestrator, SwarmReply
from convoload_demo.realestate.swarm.rules import RuleBasedBrain
from convoload_demo.realestate.swarm.tools import AgentTool, CatalogLike

__all__ = [
    "AGENDAMENTO",
    "BUSCA",
    "IMOVEL",
    "TRIAGEM",
    "Agent",
    "AgentStarted",
    "AgentTool",
    "Brain",
    "BrainDecision",
    "BrainTurn",
    "CatalogLike",
    "Handoff",
    "LLMBrain",
    "LLMCall",
    "LLMUsage",
    "MessageOutput",
    "RuleBasedBrain",
    "SwarmEvent",
    "SwarmOrchestrator",
    "SwarmReply",
    "ToolCalled",
    "ToolResult",
    "build_agents",
]
