"""Playbooks: how a scripted customer of a given domain reacts to an agent's messages."""

from __future__ import annotations

from convoload.users.playbooks.base import Playbook
from convoload.users.playbooks.realestate import RealEstatePlaybook
from convoload.users.playbooks.tickets import TicketsPlaybook

PLAYBOOKS: dict[str, type[Playbook]] = {"tickets": TicketsPlaybook, "realestate": RealEstatePlaybook}


def get_playbook(name: str) -> type[Playbook]:
    try:
        return PLAYBOOKS[name]
    except KeyError:
        raise KeyError(f"unknown playbook {name!r} (known: {', '.join(sorted(PLAYBOOKS))})") from None


__all__ = ["PLAYBOOKS", "Playbook", "get_playbook"]
