"""Conversation hooks: observers of conversation events that record findings with a priority."""
