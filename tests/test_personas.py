import pytest

from convoload.errors import ConfigError
from convoload.personas import PersonaPicker, builtin_personas, load_persona_file, resolve_personas
from tests.helpers import invoke, write


def test_builtin_personas_carry_their_journeys():
    personas = builtin_personas()
    assert list(personas) == ["kataryna", "talliz", "edman", "renata", "ricardo", "julia", "helena", "marcus"]
    assert {p.playbook for p in list(personas.values())[3:]} == {"realestate"}
    k, t, e = personas["kataryna"], personas["talliz"], personas["edman"]
    assert k.facts["date"] == "11/10/2026" and k.facts["quantities"] == {"adulto": 2, "crianca": 2}
    assert k.behaves("accepts_upsell") and k.behaves("accepts_optin")
    assert (
        t.facts["product"] == "Arvorar"
        and t.facts["date"] == "20/11"
        and t.facts["alternative_date"] == "21/11"
    )
    assert not t.behaves("accepts_upsell") and t.facts["quantities"] == {"adulto": 4}
    assert e.facts["quantities"] == {"adulto": 1, "gestante": 1, "idoso": 2} and not e.behaves(
        "accepts_upsell"
    )
    assert all(p.language == "pt-BR" for p in (k, t, e)) and personas["marcus"].language == "en"


def test_yaml_persona_round_trip(tmp_path):
    path = write(
        tmp_path / "ana.yaml",
        """
name: Ana
language: en
goal: buy two tickets
facts: {date: "12/12", quantities: {adulto: 2}}
behaviours: {accepts_upsell: true}
steps: ["hello"]
""",
    )
    persona = load_persona_file(path)
    assert persona.name == "Ana" and persona.language == "en" and persona.steps == ["hello"]
    assert persona.source == str(path)


def test_text_persona_is_read_like_users_keep_them_today(tmp_path):
    path = write(
        tmp_path / "persona_1.txt",
        """Você é Kataryna Smart, cliente interessada em comprar ingressos.
- Aceita opt-in de mensagens promocionais
- Pede ingressos para 11/10/2026
- Quantidade: 2 adultos + 2 crianças
- ACEITA upselling (cabanas/experiências)
- Prossegue até finalizar pagamento via PIX
""",
    )
    persona = load_persona_file(path)
    assert persona.name == "persona_1"
    assert "Kataryna" in persona.description
    assert persona.facts["date"] == "11/10/2026"
    assert persona.facts["quantities"] == {"adulto": 2, "crianca": 2}
    assert persona.facts["payment_method"] == "pix"
    assert persona.behaves("accepts_upsell") is True
    assert persona.behaves("accepts_optin") is True


def test_text_persona_with_refusal_and_new_date(tmp_path):
    path = write(
        tmp_path / "p2.txt",
        "Pergunta onde fica e o que tem para fazer. Pede ingressos Arvorar para "
        "20/11 (fechado). Aceita nova data: 21/11.\n4 adultos\nRECUSA upselling\n",
    )
    persona = load_persona_file(path)
    assert persona.facts["alternative_date"] == "21/11" and persona.facts["product"] == "Arvorar"
    assert persona.behaves("accepts_upsell") is False
    assert persona.facts["questions"] == ["onde fica o parque?", "e o que tem pra fazer ai?"]


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ("name: [unclosed", "", "invalid YAML at line 1"),
        ("- a\n- b\n", "", "expected a mapping"),
        ("", "", "file is empty"),
        ("name: X\nfacts: 3\n", "facts", "dictionary"),
        ("name: X\nlanguage: klingon\n", "language", "pt-BR"),
        ("name: X\nbehaviours: {accepts_upsell: maybe}\n", "behaviours.accepts_upsell", "boolean"),
        ("name: X\nmood: happy\n", "mood", "unknown field"),
        ("language: en\n", "name", "Field required"),
        ("name: X\nsteps: ['hi', '  ']\n", "steps", "step 1 is empty"),
    ],
)
def test_malformed_persona_files_name_file_and_field(tmp_path, content, field, message):
    path = write(tmp_path / "bad.yaml", content)
    with pytest.raises(ConfigError) as info:
        load_persona_file(path)
    assert info.value.source == str(path)
    assert info.value.field == field
    assert message in info.value.message


def test_unknown_persona_name_and_duplicates(tmp_path):
    with pytest.raises(ConfigError, match="neither a built-in persona"):
        resolve_personas(["nobody"], tmp_path)
    with pytest.raises(ConfigError, match="unique"):
        resolve_personas(["kataryna", "Kataryna"], tmp_path)


def test_picker_is_seedable_and_pinnable():
    personas = list(builtin_personas().values())[:3]
    a = [PersonaPicker(personas, seed=3).pick(i).name for i in range(30)]
    b = [PersonaPicker(personas, seed=3).pick(i).name for i in range(30)]
    assert a == b and len(set(a)) == 3
    assert {PersonaPicker(personas, seed=3, pinned="talliz").pick(i).name for i in range(10)} == {"Talliz"}
    with pytest.raises(KeyError):
        PersonaPicker(personas, pinned="zed")
    everyone = list(builtin_personas().values())
    assert PersonaPicker(everyone, pinned="JULIA").pick(0).name == "Júlia"


def run_cli(*args):
    return invoke(*args, env={"CONVOLOAD_DB_URL": None})


def test_cli_rejects_malformed_persona_with_one_line_and_exit_2(tmp_path):
    bad = write(tmp_path / "bad.yaml", "name: X\nbehaviours: {accepts_upsell: maybe}\n")
    result = run_cli("personas", "check", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert str(bad) in lines[0] and "behaviours.accepts_upsell" in lines[0]


def test_cli_rejects_malformed_config_with_one_line_and_exit_2(tmp_path):
    bad = write(tmp_path / "config.yaml", "run:\n  concurrency: -1\n")
    result = run_cli("run", "-f", str(bad))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert f"{bad}: run.concurrency:" in result.stderr

    bad_persona = write(tmp_path / "p.yaml", "name: [oops\n")
    config = write(tmp_path / "c2.yaml", f"personas: ['{bad_persona}']\n")
    result = run_cli("run", "-f", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{bad_persona}: invalid YAML" in result.stderr

    webhook = write(tmp_path / "c3.yaml", "target: {type: webhook}\n")
    result = run_cli("run", "-f", str(webhook))
    assert result.returncode == 2 and "target: a webhook target needs 'url'" in result.stderr
