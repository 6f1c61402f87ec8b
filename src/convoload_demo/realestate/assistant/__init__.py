"""The real-estate chat assistant: the swarm behind ``POST /api/chat`` (see ``server``), plus launchers.

``python -m convoload_demo.realestate.assistant --catalog-url URL [--host H] [--port 8003] [--brain
rules|llm] [--llm PROVIDER/MODEL ...] [--local-llm-url URL]`` prints ``READY http://HOST:PORT``.
"""

from convoload_demo.realestate.assistant.launcher import AssistantServer
from convoload_demo.realestate.assistant.settings import AssistantSettings

__all__ = ["AssistantServer", "AssistantSettings"]
