"""In-process agents for capacity runs (python targets, named in configs as tests.capacity.agents:NAME)."""

import gevent


def quick_agent(text, session, iteration):
    """Gives the payment link at the second turn, except to every third customer (who never gets it)."""
    gevent.sleep(0.02)
    if iteration >= 2 and session.user_id % 3:
        return "Pronto! Link de pagamento: https://pay.example.com/pix/X"
    return "Para qual data você gostaria dos ingressos?"
