"""Synthetic customer identities: unique per virtual user, reproducible from a seed."""

from convoload.identity.generator import Identity, IdentityFactory, cpf_check_digits

__all__ = ["Identity", "IdentityFactory", "cpf_check_digits"]
