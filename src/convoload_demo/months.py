"""Month names (accents stripped, lower case), Portuguese and English, for the pack's agents.

The bundled agents read dates with their own tables and text helpers, never with convoload's
customer-side ones (`convoload.textutil`): a parsing bug shared by the simulated customer and the
agent under test would cancel itself out, and the run would look right when the agent is wrong.
"""

MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("janeiro", "january"),
            ("fevereiro", "february"),
            ("marco", "march"),
            ("abril", "april"),
            ("maio", "may"),
            ("junho", "june"),
            ("julho", "july"),
            ("agosto", "august"),
            ("setembro", "september"),
            ("outubro", "october"),
            ("novembro", "november"),
            ("dezembro", "december"),
        ),
        start=1,
    )
    for name in names
}
