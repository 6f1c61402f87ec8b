"""convoload's locustfile: `locust -f $(convoload locustfile) --headless -u 10 -r 2 -t 2m`.

Each virtual user holds whole conversations, one after another, with a persona
and a synthetic identity; see `convoload.load.locust_plugin` for the options.
"""

from convoload.load.locust_plugin import ConversationUser

__all__ = ["ConversationUser"]
