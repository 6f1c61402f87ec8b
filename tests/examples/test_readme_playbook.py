"""The docs' "A scripted user for your domain" (docs/guides/personas.md) runs as written: its playbook
and persona, read from the page (they cannot drift apart), play a real run against a pizza agent; a
third-party pack installed next to them registers the playbook by name and a hook about its domain
through entry points."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convoload.store.journal import read_journal
from tests.helpers import docs_blocks, write

REPO = Path(__file__).resolve().parents[2]
PAGE, SECTION = "guides/personas.md", "## A scripted user for your domain"


# An agent that asks what a pizzeria asks, checks the answers, and confirms the order with a payment link.
PIZZERIA = """
ASKED = ["Olá! Qual sabor de pizza você quer?", "E o tamanho?", "Qual o endereço de entrega?"]


def reply(text, session, iteration):
    if iteration <= len(ASKED):
        return ASKED[iteration - 1]
    return f"Pedido confirmado! Pague em https://pay.example.com/pizza/{session.session_id}"
"""

# A third party's hook, registered under convoload.hooks: it watches pizza conversations only.
HOOKS = """
from convoload.hooks.base import Hook


class FlavourChosen(Hook):
    name = "flavour_chosen"
    priority = "business"
    domains = frozenset({"pizza"})

    def on_reply(self, ctx, turn, raw):
        if turn.user_text in ("margherita", "calabresa"):
            ctx.report(f"flavour {turn.user_text}", iteration=turn.iteration)
"""


def install_pack(site: Path) -> None:
    """A distribution on the path, as `pip install` leaves it: the code and its entry points."""
    blocks = docs_blocks(PAGE, SECTION)
    first_line = blocks["python"].splitlines()[0]
    assert first_line == "# my_playbooks.py", "the docs name the module they show"
    write(site / "my_playbooks.py", blocks["python"])
    write(site / "pizzeria.py", PIZZERIA)
    write(site / "pizza_hooks.py", HOOKS)
    dist = site / "pizza_pack-0.1.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: pizza-pack\nVersion: 0.1\n")
    toml = blocks["toml"]
    assert '[project.entry-points."convoload.playbooks"]' in toml
    playbook_entry = toml.split("]", 1)[1].strip()  # pizza = "my_playbooks:PizzaPlaybook", as the docs say
    write(
        dist / "entry_points.txt",
        "[convoload.playbooks]\n"
        + playbook_entry.replace('"', "")
        + "\n\n[convoload.hooks]\nflavour_chosen = pizza_hooks:FlavourChosen\n",
    )


@pytest.mark.e2e
def test_the_docs_playbook_plays_a_real_run(tmp_path):
    site = tmp_path / "site"
    install_pack(site)
    personas = tmp_path / "personas"
    write(personas / "bia.yaml", docs_blocks(PAGE, SECTION)["yaml"])  # playbook: my_playbooks:PizzaPlaybook
    # "house" is a word the demo pack's property_inquiries hook listens for, in real-estate runs only.
    caio = "name: Caio\nplaybook: pizza\nlanguage: en\n"
    caio += "facts: {flavour: calabresa, size: large, address: blue house}\n"
    write(personas / "caio.yaml", caio)
    config = write(
        tmp_path / "run.yaml",
        f"""
run: {{conversations: 4, concurrency: 2, seed: 7, persona_assignment: round_robin,
      runs_dir: {tmp_path / "runs"}}}
personas: [./personas]
target: {{type: python, function: "pizzeria:reply"}}
""",
    )
    result = subprocess.run(
        [sys.executable, "-m", "convoload", "run", "-f", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=180,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "PYTHONPATH": f"{site}:{REPO}"},
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    records = read_journal(run_dir / "journal.jsonl")
    assert sorted(r.persona for r in records) == ["Bia", "Bia", "Caio", "Caio"]
    for record in records:
        said = [t.user_text for t in record.turns]
        assert record.goal_reached, said
        if record.persona == "Bia":  # Portuguese, from the docs' persona
            assert said[1:] == ["margherita", "pode ser grande", said[3]] and said[3].startswith(
                "Rua das Flores, 12 ("
            )
        else:  # English, through the registered name
            assert said[1:3] == ["calabresa", "large, please"] and said[3].startswith("blue house (")
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    chosen = aggregate["findings"]["by_hook"]["flavour_chosen"]
    assert chosen["count"] == 4 and chosen["priority"] == "business"
    # The demo pack's real-estate hooks are about another domain: off in a pizza run.
    assert not {"property_inquiries", "scheduling_requests"} & set(aggregate["findings"]["by_hook"])
