"""convoload: persona-driven multi-turn load testing for conversational AI agents."""

__version__ = "0.1.0"
