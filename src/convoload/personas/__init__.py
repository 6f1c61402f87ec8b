"""Personas: who the simulated customer is, what they want and how they behave."""

from convoload.personas.loader import builtin_personas, load_persona_file, resolve_personas
from convoload.personas.model import Persona
from convoload.personas.picker import PersonaPicker

__all__ = ["Persona", "PersonaPicker", "builtin_personas", "load_persona_file", "resolve_personas"]
