"""Load run of an emulated messaging platform against its example bot (examples/bots/<platform>/bot.py).

    python benchmarks/platforms.py --platform whatsapp --conversations 200
    python benchmarks/platforms.py --platform telegram --ramp-up-s 8 --think-time-s 4 [--webhook]
    python benchmarks/platforms.py --platform twilio --conversations 200     (twilio-sms: the SMS channel)

convoload plays the platform; the bot runs as its own process on loopback, as in production but for its
platform base URL. Prints the run's outcome and the platform figures: latency per turn (user message
sent -> the bot's last message of the turn), time to the first message, messages per turn, typing time,
status callbacks, faults.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from benchtable import ms, print_table  # noqa: E402
from convoload import api  # noqa: E402
from convoload.config import load_config  # noqa: E402
from convoload.platforms.base import PlatformTarget  # noqa: E402
from convoload.platforms.wiring import build_platform_target  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = {
    "whatsapp": ["Oi", "Agendar visita", "Amanhã 10h", "ana@example.com", "Confirmar"],
    "telegram": ["/start", "Ver planos", "Pro - R$ 59", "ana@example.com", "Confirmar"],
    "twilio": ["Oi", "Agendar visita", "Amanhã 10h", "ana@example.com", "Confirmar"],
    "twilio-sms": ["Oi", "Agendar visita", "Amanhã 10h", "ana@example.com", "Confirmar"],
}
# What the bot's last reply says when the goal is reached (a visit booked, a payment link).
GOALS = {
    "whatsapp": "Agendamento confirmado",
    "telegram": "pay.example/tg/",
    "twilio": "Agendamento confirmado",
    "twilio-sms": "Agendamento confirmado",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _whatsapp(bot_port: int, graph_port: int, webhook: bool) -> tuple[dict[str, str], str, list[str]]:
    secrets = {"WA_APP_SECRET": "bench-app-secret", "WA_TOKEN": "EAAbench", "WA_VERIFY_TOKEN": "bench-vt"}
    bot_env = {**secrets, "WA_PHONE_ID": "106540352242922", "WA_GRAPH_URL": f"http://127.0.0.1:{graph_port}"}
    os.environ.update(secrets)
    target = f"""
target:
  type: whatsapp
  url: http://127.0.0.1:{bot_port}/webhook
  timeout_s: 60
  quiet_period_s: 0.3
  receiver: {{port: {graph_port}}}
  platform:
    whatsapp: {{app_secret_env: WA_APP_SECRET, access_token_env: WA_TOKEN, verify_token_env: WA_VERIFY_TOKEN}}
"""
    return bot_env, target, ["--port", str(bot_port)]


def _telegram(bot_port: int, api_port: int, webhook: bool) -> tuple[dict[str, str], str, list[str]]:
    secrets = {"TG_TOKEN": "7300000001:AAH-bench_token_0123456789abcdef", "TG_SECRET": "bench-secret"}
    bot_env = {**secrets, "TG_API_URL": f"http://127.0.0.1:{api_port}"}
    os.environ.update(secrets)
    # The bot's messages of one turn come further apart under load than WhatsApp's: a longer quiet period
    # gathers them (the latency is still the time of the turn's last message).
    target = f"""
target:
  type: telegram
  timeout_s: 60
  quiet_period_s: 2.0
  receiver: {{port: {api_port}}}
  platform:
    telegram: {{token_env: TG_TOKEN}}
"""
    return bot_env, target, ["--webhook", "--port", str(bot_port)] if webhook else []


def _twilio(
    bot_port: int, api_port: int, webhook: bool, channel: str = "whatsapp"
) -> tuple[dict[str, str], str, list[str]]:
    account = "AC" + "0" * 31 + "1"
    os.environ["TWILIO_AUTH_TOKEN"] = "bench-auth-token"
    bot_env = {"TWILIO_ACCOUNT_SID": account, "TWILIO_API_URL": f"http://127.0.0.1:{api_port}"}
    target = f"""
target:
  type: twilio
  url: http://127.0.0.1:{bot_port}/incoming
  timeout_s: 60
  quiet_period_s: 0.3
  receiver: {{port: {api_port}}}
  platform:
    twilio: {{channel: {channel}, account_sid: {account}, auth_token_env: TWILIO_AUTH_TOKEN}}
"""
    return bot_env, target, ["--port", str(bot_port)]


# platform -> its bot's environment, the target config and the bot's arguments
PLATFORMS: dict[str, Callable[[int, int, bool], tuple[dict[str, str], str, list[str]]]] = {
    "whatsapp": _whatsapp,
    "telegram": _telegram,
    "twilio": _twilio,
    "twilio-sms": lambda bot, api, webhook: _twilio(bot, api, webhook, "sms"),
}
FOLDERS = {"twilio-sms": "twilio"}  # one example bot, both channels
# Bots that call the platform's API at start-up (getMe, setWebhook) come up after it does.
API_FIRST = {"telegram"}


def _wait_ready(bot: subprocess.Popen, platform: str) -> None:
    line = bot.stdout.readline() if bot.stdout else ""
    if not line.startswith("ready"):
        raise SystemExit(f"the {platform} bot did not start: {line!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="whatsapp")
    parser.add_argument("--conversations", type=int, default=200, help="all at once")
    parser.add_argument("--webhook", action="store_true", help="telegram: updates by webhook, not getUpdates")
    parser.add_argument("--ramp-up-s", type=float, default=0.0, help="spread the conversations' starts")
    parser.add_argument("--think-time-s", type=float, default=0.0, help="the users' pause between turns")
    args = parser.parse_args()

    bot_port, graph_port = _free_port(), _free_port()
    bot_env, target_yaml, bot_args = PLATFORMS[args.platform](bot_port, graph_port, args.webhook)
    folder = REPO / "examples" / "bots" / FOLDERS.get(args.platform, args.platform)
    bot = subprocess.Popen(
        [sys.executable, str(folder / "bot.py"), *bot_args],
        cwd=folder,
        env={**os.environ, **bot_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        if args.platform not in API_FIRST:
            _wait_ready(bot, args.platform)
        with tempfile.TemporaryDirectory() as tmp:
            script = SCRIPTS[args.platform]
            config_path = Path(tmp) / "bench.yaml"
            config_path.write_text(
                f"""
run: {{conversations: {args.conversations}, concurrency: {args.conversations}, max_iterations: 10,
      seed: 1, runs_dir: "{tmp}/runs", ramp_up_s: {args.ramp_up_s}, think_time_s: {args.think_time_s}}}
user: {{type: fixed, scripts: [{script!r}]}}
goal: {{type: regex, pattern: "{GOALS[args.platform]}"}}
{target_yaml}""",
                encoding="utf-8",
            )
            config = load_config(config_path)
            target = build_platform_target(config)
            assert isinstance(target, PlatformTarget)
            if args.platform in API_FIRST:
                _wait_ready(bot, args.platform)
            started = time.perf_counter()
            report = api.run(config, target=target)
            wall_s = time.perf_counter() - started
    finally:
        bot.terminate()
        bot.wait(timeout=10)

    summary = report.summary
    stats = report.run.target_stats or {}
    figures = target.figures()
    turns = stats.get("platform_turns", 0)
    bot_path = folder.relative_to(REPO) / "bot.py"
    print(f"{args.platform}: {args.conversations} conversations at once against {bot_path}")
    print_table(
        ("run", "value"),
        [
            ("goal reached", f"{summary.successful_conversations}/{summary.total_conversations}"),
            ("turns", turns),
            ("wall time", f"{wall_s:.1f} s"),
            ("turns per second", f"{turns / wall_s:.1f}"),
            ("messages from the bot", stats.get("platform_messages", 0)),
            ("messages late", stats.get("platform_messages_late", 0)),
            ("button taps", stats.get("platform_taps", 0)),
            ("status callbacks sent", stats.get("platform_statuses_sent", 0)),
            ("callback queries answered", stats.get("platform_callbacks_answered", 0)),
            ("messages edited", stats.get("platform_messages_edited", 0)),
            ("faults", sum(v for k, v in stats.items() if k.startswith("platform_fault_"))),
        ],
    )
    print()
    rows = []
    for name, spread in (
        ("latency per turn", figures.latency_ms),
        ("time to first message", figures.first_message_ms),
        ("typing time", figures.typing_ms),
    ):
        rows.append((name, ms(spread.p50), ms(spread.p95), ms(spread.max)))
    per_turn = figures.messages_per_turn
    rows.append(("messages per turn", f"{per_turn.mean:.2f}", f"{per_turn.p95:.0f}", f"{per_turn.max:.0f}"))
    print_table(("per turn", "p50", "p95", "max"), rows)


if __name__ == "__main__":
    main()
