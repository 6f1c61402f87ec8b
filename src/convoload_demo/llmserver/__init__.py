"""Local, scriptable, OpenAI-compatible LLM provider: real HTTP on loopback, no network, no keys.

Tests and offline demos point an OpenAI client at it instead of OpenRouter, Gemini or Ollama::

    script = {"models": {"m": "canned"}, "canned": {"m": ["hi"]}}
    with LocalLLMServer({"api_key": "k", "script": script}) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="k", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "oi"}])

Command line: ``python -m convoload_demo.llmserver --host 127.0.0.1 --port 0 [--api-key KEY]
[--latency S] [--jitter S] [--script FILE.json] [--seed N]``; it prints one ``READY http://HOST:PORT``
line on stdout once it accepts connections.

Endpoints
---------
``POST /v1/chat/completions``
    Non-streaming chat completions. Bodies are validated like OpenAI does (400
    ``invalid_request_error`` naming ``param`` and ``code``); ``stream: true`` is a 400. Unknown extra
    parameters are ignored (as OpenRouter/Ollama do). ``max_tokens``/``max_completion_tokens`` cut the
    content to that many tokens minus the reasoning tokens, with ``finish_reason: "length"``.
``GET /v1/models``
    The scripted model names plus ``echo`` and ``persona``.
``GET /health``
    ``{"status": "ok", "requests": N}``.
``PUT /admin/script``
    Replace the script (body: the JSON below); 422 when invalid. Fault queue and canned positions restart.
``GET /admin/script``
    ``{"script": ..., "pending_faults": [...]}``.
``GET /admin/requests``
    ``{"requests": [...]}``: every chat request in arrival order, each with ``index``, ``model``,
    ``messages``, ``tools``, ``params`` (every other body field), ``authorization`` (whether the header
    was present, never its value), ``valid_json``, ``status`` (HTTP status answered) and ``fault``.
``POST /admin/reset``
    Forget requests, pending faults, cached prompt prefixes and canned positions (the script stays).

With ``--api-key``, ``/v1/*`` needs ``Authorization: Bearer KEY`` (401 otherwise). Every error body has
OpenAI's shape ``{"error": {"message", "type", "param", "code"}}`` (``param`` is null except for body
validation errors, where it names the field as OpenAI does); unknown routes are 404 in that shape.

Usage numbers
-------------
A token is 4 characters, rounded up: ``prompt_tokens`` = sum over messages of
``ceil(len(content text) / 4) + 4`` (content text: the string, or the concatenated ``text`` parts);
``completion_tokens`` = ``ceil(len(reply) / 4)`` (for a tool call: name + JSON arguments) + reasoning
tokens. ``prompt_tokens_details.cached_tokens`` is the ``prompt_tokens`` of the longest whole-message
prefix (at least the first message) that an earlier answered request for the same model already sent
(bounded LRU of prefix hashes). ``completion_tokens_details.reasoning_tokens`` comes from the script.

Script (JSON object; every key optional, unknown keys rejected)
---------------------------------------------------------------
``models``: ``{model_name: "echo" | "canned" | "tool" | "persona"}``
    A model's behaviour. Models not listed: ``canned`` when ``canned`` has replies for them, else
    ``echo``/``persona`` for those two names, else ``persona`` when the system message holds a
    ``<persona>`` block, else ``echo``.
    A model not listed (and without canned replies) that gets convoload's judge request (its system
    message holds ``convoload.judge.prompt.JUDGE_MARKER``) answers as a deterministic judge instead:
    the verdict JSON, with a score and a reason per criterion (see ``judge.py``).
``canned``: ``{model_name: ["reply 1", "reply 2", ...]}``
    Replies given in order, cycling (positions are per model and shared by all clients).
``tool_call``: ``{"name": str | null, "arguments": {...}, "as_text": false}``
    For ``tool`` models when the request has ``tools``: one native call (``tool_calls`` with id
    ``call_...``, JSON-encoded ``arguments``, ``finish_reason: "tool_calls"``) to ``name`` (default:
    the tool forced by ``tool_choice``, else the first tool). ``as_text: true`` writes
    ``{"tool": name, "arguments": {...}}`` into the content instead. Without tools (or with
    ``tool_choice: "none"``) a tool model answers like ``canned`` if it has canned replies, else ``echo``.
``faults``: ``[{"kind": ..., "times": 1, "model": null, ...}, ...]``
    Consumed in order: each chat request uses one of the ``times`` of the first fault that matches it
    (``model`` null = any model). Kinds:

    - ``rate_limit``: 429, header ``Retry-After: <retry_after>`` (default 1), type ``rate_limit_exceeded``.
    - ``server_error``: 500. ``unavailable``: 503.
    - ``timeout``: stall ``seconds`` (default 30), then answer normally; the client should time out first.
    - ``malformed``: 200 whose body is not valid JSON. ``bad_shape``: 200 JSON without ``choices``.
    - ``empty``: 200 with ``content: ""``.
    - ``tools_unsupported``: only matches requests with ``tools``. ``style: "openrouter"`` (default):
      404 ``{"error": {"message": "No endpoints found that support tool use. ...", "code": 404}}``;
      ``style: "ollama"``: 400 ``{"error": {"message": "registry.ollama.ai/library/gemma3n:e2b does not
      support tools", "type": "api_error", ...}}``.

    ``message`` replaces any fault's default error message.
``latency_s``, ``jitter_s``: float | null
    Delay (uniform +/- jitter) before each chat answer, faults included; null = the CLI flags.
``reasoning_tokens``: int | ``{model_name: int}``
    Reported reasoning tokens (default 0), added to ``completion_tokens`` as OpenAI does.
``cost_per_million``: ``{"input": USD, "output": USD, "cached_input": USD | null}``
    When set, ``usage.cost`` (OpenRouter style, USD) = (uncached prompt x input + cached x cached_input
    (default: input) + completion x output) / 1e6.

Simulator faults
----------------
``--sim-fault KIND`` (settings ``sim_fault``) makes persona answers break the simulation the way
convoload's simulator checks (``convoload.users.simcheck``) detect: ``empty`` (whitespace only),
``role_leak`` (writes as the assistant), ``no_stop`` (says goodbye without ``[STOP]``), ``stop_mid``
(``[STOP]`` with text after it), ``language_drift`` (Spanish for a pt-BR persona, Portuguese for an
English one) or ``identity_drift`` (another name and CPF, or e-mail). ``--sim-fault-on 1,2``
(``sim_fault_on``) limits it to those persona answers, counted from 1 since start or the last
``/admin/reset`` (default: every one); ``1,2`` makes a conversation's first message and convoload's
retry of it faulty. Each such request's log entry says ``sim_fault``.

Persona mode
------------
The system message holds exactly one block::

    <persona>
    {"name": ..., "language": ..., "description": ..., "goal": ..., "playbook": ..., "facts": {...},
     "behaviours": {...}, "steps": [...], "identity": {"full_name", "first_name", "last_name", "phone",
     "phone_digits", "email", "cpf", "cpf_digits"}}
    </persona>

and the caller is the LLM-driven *customer*: ``user`` messages are what the agent under test said,
``assistant`` messages the customer's earlier lines, and a ``user`` message ``[CONVERSATION_START]``
means the customer speaks first. The server replays the dialogue through
:class:`convoload.users.ScriptedUser` (seed: the request ``seed``, else the identity's e-mail), one
``next_message`` per agent reply (consecutive ``user`` messages are one reply, joined by a blank line),
and answers what the scripted customer says to the last one, or exactly ``[STOP]`` once it stops.
"""

from convoload_demo.llmserver.launcher import LocalLLMServer
from convoload_demo.llmserver.script import Script
from convoload_demo.llmserver.settings import LLMServerSettings

__all__ = ["LLMServerSettings", "LocalLLMServer", "Script"]
