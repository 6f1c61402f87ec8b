import re

from validate_docbr import CPF

from convoload.identity import IdentityFactory, cpf_check_digits


def test_identities_are_unique_and_valid_within_a_run():
    factory = IdentityFactory(seed=123)
    people = [factory.identity(i) for i in range(3000)]
    assert len({p.cpf_digits for p in people}) == 3000
    assert len({p.phone_digits for p in people}) == 3000
    assert len({p.email for p in people}) == 3000
    validator = CPF()
    for p in people:
        assert validator.validate(p.cpf), p.cpf
        assert re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", p.cpf)
        assert re.fullmatch(r"\+55 \d{2} 9\d{4}-\d{4}", p.phone), p.phone
        assert p.phone_digits == re.sub(r"\D", "", p.phone)
        assert p.email.split("@")[1] in {"example.com", "example.net", "example.org"}
        assert len(p.full_name.split()) >= 3


def test_identities_are_reproducible_from_the_seed():
    a, b, c = IdentityFactory(7), IdentityFactory(7), IdentityFactory(8)
    assert [a.identity(i) for i in range(20)] == [b.identity(i) for i in range(20)]
    assert a.identity(3) == b.identity(3)
    assert [a.identity(i).cpf for i in range(20)] != [c.identity(i).cpf for i in range(20)]


def test_index_order_does_not_matter():
    factory = IdentityFactory(5)
    forward = [factory.identity(i) for i in range(10)]
    backward = [factory.identity(i) for i in reversed(range(10))][::-1]
    assert forward == backward


def test_cpf_check_digits_match_a_known_valid_cpf():
    generated = CPF().generate()
    assert cpf_check_digits(generated[:9]) == generated[9:]
    assert cpf_check_digits("111444777") == "35"
