"""A chat target with a known, fixed reply delay, for measuring convoload's own overhead.

Runs in its own process (so it does not share the harness's CPU or event loop):
  python benchmarks/loopback_target.py --delay 0.5
  POST /chat     {"session_id", "text", "iteration"} -> after DELAY: {"reply", "agent", "held_ms"}
  POST /webhook  {..., "webhook"} -> 202 at once; after DELAY the reply is POSTed to "webhook"
  GET  /stats    {"callbacks_sent", "callbacks_failed", "callback_status": {code: n}}
"held_ms" is how long the target really held the turn (its timer is not exact to the millisecond).
--delay 0 answers at once, without even yielding to the event loop (the throughput benchmark).
It asks the questions the scripted ticket customer answers, and sends a payment
link at --turns, so every conversation has exactly that many turns.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import gevent  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402
from geventhttpclient.url import URL  # noqa: E402

# The harness's collector pacing: with thousands of sessions held for seconds, CPython's own
# collection schedule pauses this process for 20-200 ms at a time, and every pause would be counted as
# the harness's overhead (see convoload/load/heap.py).
from convoload.load.heap import LoadHeap  # noqa: E402

# The receiver's own lean server: the less CPU the target spends per request, the less of its own
# queueing ends up in the overhead this target is used to measure.
from convoload.targets.lean_wsgi import ConnectionLimits, LeanWSGIServer  # noqa: E402

QUESTIONS = [
    "Oi! Você aceita receber novidades e promoções?",
    "Para qual data você gostaria dos ingressos?",
    "Quantas pessoas vão?",
    "Quer adicionar a Cabana na Floresta?",
    "Me envie nome completo, CPF, telefone e e-mail.",
    "Como prefere pagar: PIX ou cartão?",
]


def reply_for(iteration: int, turns: int) -> str:
    if iteration >= turns:
        return "Pronto! Link de pagamento: https://pay.example.com/pix/BENCH"
    return QUESTIONS[(iteration - 1) % len(QUESTIONS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument(
        "--callback-pool",
        type=int,
        default=0,
        help="deliver callbacks over this many shared connections (0: one connection per session)",
    )
    args = parser.parse_args()
    # A connection per session (as an agent that keeps one per customer), or, with --callback-pool, a
    # shared pool per receiver (as platforms that deliver webhooks through a connection pool).
    clients: dict[str, HTTPClient] = {}
    # What was delivered, so a benchmark can tell lost callbacks from callbacks never sent.
    stats: Counter[str] = Counter()
    statuses: Counter[str] = Counter()

    def callback(session_id: str, url: str, document: dict, received: float) -> None:
        gevent.sleep(args.delay)
        document["held_ms"] = (time.perf_counter() - received) * 1000
        target = URL(url)
        pooled = args.callback_pool > 0
        key = f"{target.host}:{target.port}" if pooled else session_id
        client = clients.get(key)
        if client is None:
            # Generous: a harness that is slow to accept shows up as latency, not as a failed callback.
            size = args.callback_pool if pooled else 1
            client = clients[key] = HTTPClient.from_url(target, concurrency=size, network_timeout=60)
        body = json.dumps(document).encode()
        try:
            response = client.request(
                "POST", target.request_uri, body=body, headers={"Content-Type": "application/json"}
            )
            response.read()
            stats["callbacks_sent"] += 1
            statuses[str(response.status_code)] += 1
        except Exception as exc:  # counted, not raised: the benchmark reports it as a lost callback
            stats["callbacks_failed"] += 1
            statuses[type(exc).__name__] += 1
        if "https://" in document["text"] and not pooled:
            clients.pop(session_id).close()

    def app(environ, start_response):
        received = time.perf_counter()
        if environ["REQUEST_METHOD"] == "GET":
            body = json.dumps({**stats, "callback_status": statuses}).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
        text = reply_for(int(request.get("iteration", 1)), args.turns)
        if environ["PATH_INFO"] == "/webhook":
            message_id = f"{request['session_id']}-{request['iteration']}"
            document = {"text": text, "agent": "bench", "messageId": message_id}
            gevent.spawn(callback, request["session_id"], request["webhook"], document, received)
            status, body = "202 Accepted", b'{"status":"queued"}'
        else:
            if args.delay > 0:
                gevent.sleep(args.delay)
            held_ms = (time.perf_counter() - received) * 1000
            status, body = (
                "200 OK",
                json.dumps({"reply": text, "agent": "bench", "held_ms": held_ms}).encode(),
            )
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    # As many customers as the harness holds: the default 4,096 open connections would answer the rest 503,
    # and a turn held longer than the default idle timeout would close their connection in between.
    limits = ConnectionLimits(max_connections=1_000_000, idle_timeout_s=600.0)
    server = LeanWSGIServer(("127.0.0.1", args.port), app, log=None, backlog=4096, limits=limits)
    server.start()
    LoadHeap().enter()
    sys.stdout.write(f"READY http://127.0.0.1:{server.server_port}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
