"""Generate fake Brazilian customers: full name, mobile phone, e-mail and a valid CPF.

Uniqueness is structural rather than checked after the fact: the CPF base, the
phone number and the e-mail local part are bijective functions of the user
index, so two indices can never collide, also across processes that draw
disjoint index ranges. Names come from Faker pt_BR seeded by (seed, index).
E-mails use the reserved example.* domains, so no real mailbox is ever used.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import asdict, dataclass

from faker import Faker
from validate_docbr import CPF

# Area codes (DDD) of large Brazilian cities; any of them with a leading 9 is a mobile number.
_AREA_CODES = (11, 21, 31, 41, 47, 48, 51, 61, 62, 71, 81, 85, 91, 92, 27, 19, 13, 16)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
# Multipliers coprime with the moduli, so index -> number is a bijection.
# CPF bases use 0..899,999,999; the 9xx,xxx,xxx block is kept free for remapping the
# nine repeated-digit bases (000000000, 111111111, ...) that are invalid by rule.
_CPF_SPACE, _CPF_STEP = 9 * 10**8, 282_475_249  # 7**10, coprime with 9 * 10**8
_PHONE_SPACE, _PHONE_STEP = 10**8, 43_046_721  # 3**16, coprime with 10**8


@dataclass(frozen=True, slots=True)
class Identity:
    full_name: str
    first_name: str
    last_name: str
    phone: str  # "+55 11 98765-4321"
    phone_digits: str  # "5511987654321", what most chat APIs expect
    email: str
    cpf: str  # "123.456.789-09"
    cpf_digits: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def cpf_check_digits(base9: str) -> str:
    """The two CPF check digits for a 9-digit base."""
    digits = [int(c) for c in base9]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(weight_start, 1, -1), strict=False))
        rest = (total * 10) % 11
        digits.append(0 if rest == 10 else rest)
    return f"{digits[-2]}{digits[-1]}"


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


class IdentityFactory:
    """`identity(i)` is the same for the same (seed, i) and differs for every i below `capacity`."""

    # Indices with pairwise different phone numbers (the smallest of the bijective spaces); CPFs and
    # e-mails stay unique beyond it. Distributed runs keep every worker's index block below this.
    capacity = _PHONE_SPACE

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        offsets = random.Random(f"convoload-identity-{self.seed}")
        self._cpf_offset = offsets.randrange(_CPF_SPACE)
        self._phone_offset = offsets.randrange(_PHONE_SPACE)
        self._faker = Faker("pt_BR")
        self._validator = CPF()

    def identity(self, index: int) -> Identity:
        if index < 0:
            raise ValueError("identity index must be >= 0")
        self._faker.seed_instance(f"{self.seed}-{index}")
        first = self._faker.first_name()
        last = f"{self._faker.last_name()} {self._faker.last_name()}"
        while last.split()[0] == last.split()[1]:
            last = f"{last.split()[0]} {self._faker.last_name()}"
        rng = self._faker.random  # seeded for this index above: a second Random would cost as much again

        cpf_digits = self._cpf(index)
        phone_number = (self._phone_offset + index * _PHONE_STEP) % _PHONE_SPACE
        area = rng.choice(_AREA_CODES)
        subscriber = f"9{phone_number:08d}"
        email = f"{_ascii_slug(first)}.{_ascii_slug(last.split()[-1])}.{index}@{rng.choice(_EMAIL_DOMAINS)}"
        return Identity(
            full_name=f"{first} {last}",
            first_name=first,
            last_name=last,
            phone=f"+55 {area} {subscriber[:5]}-{subscriber[5:]}",
            phone_digits=f"55{area}{subscriber}",
            email=email,
            cpf=f"{cpf_digits[:3]}.{cpf_digits[3:6]}.{cpf_digits[6:9]}-{cpf_digits[9:]}",
            cpf_digits=cpf_digits,
        )

    def _cpf(self, index: int) -> str:
        base = (self._cpf_offset + index * _CPF_STEP) % _CPF_SPACE
        base9 = f"{base:09d}"
        if len(set(base9)) == 1:
            base9 = f"{_CPF_SPACE + int(base9[0]) * 7 + 1:09d}"
        digits = base9 + cpf_check_digits(base9)
        if not self._validator.validate(digits):  # defensive: never hand out an invalid CPF
            raise AssertionError(f"generated an invalid CPF for index {index}")
        return digits
