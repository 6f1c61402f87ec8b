"""Bundled demo agents that convoload can load-test without any external service."""
