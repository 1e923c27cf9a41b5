"""Messages per second through the real Telegram bot, against the fake Bot API on loopback.

    .venv/bin/python bench/telegram_throughput.py [--messages 1000]

The same 1,000 generated class-chat messages as ``bench/check_speed.py`` are queued in the fake
Bot API; the bot (python-telegram-bot, the pipeline on the fallback scorer, a SQLite store) long-polls
them and acts. Two runs: with Telegram's own rate limits (30 messages/s overall, 20/min per group)
as deployed, and with the per-group limit lifted to show the bot's own processing capacity. Each
reports when the last message was handled in its group, and when the last moderators' card was
posted (cards to the staff groups queue behind the same 20/min limit).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.telegram.app import TelegramBot, build_application
from bench.messages import generate_messages
from bot.app import Services
from bot.config import load_settings
from bot.store import Store
from moderation.policy import load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.loading import LoadedScorer
from tests.fakes import FakeBotAPI, running_application

GROUP, MODS, OFFICER = -1001, -1002, -1003
SENTINEL_USER = 999_999


async def run_once(count: int, group_max_rate: int) -> dict[str, float]:
    """Queue ``count`` messages, start the bot, and time until the last one is handled."""
    messages = generate_messages(count)
    with tempfile.TemporaryDirectory() as scratch:
        async with FakeBotAPI() as fake:
            settings = load_settings(
                database_url=f"sqlite:///{Path(scratch) / 'bench.db'}",
                telegram_token=fake.token,
                telegram_api_url=fake.base_url,
                telegram_moderators_chat=MODS,
                telegram_safeguarding_chat=OFFICER,
                log_level="ERROR",
            )
            store = Store.open(settings.database_url)
            store.authorise_group("telegram", str(GROUP), title="bench", authorised_by="bench", at=_now())
            loaded = LoadedScorer(ProfanityFallbackScorer(), is_fallback=True, reason="benchmark")
            services = Services(settings=settings, policy=load_policy(), store=store, loaded=loaded)
            for group in (GROUP, MODS, OFFICER):
                fake.add_group(group, str(group))
            users = [fake.make_user(1000 + index, f"Learner{index}") for index in range(40)]
            for user in users:
                fake.allow_private(user["id"])
            sentinel = fake.make_user(SENTINEL_USER, "Last")
            fake.allow_private(SENTINEL_USER)
            for index, message in enumerate(messages):
                fake.send_text(GROUP, users[index % len(users)], message["text"])
            fake.send_text(GROUP, sentinel, "this homework is shit")
            bot = TelegramBot(services, build_application(settings, group_max_rate=group_max_rate))
            started = time.perf_counter()
            async with running_application(bot.application, poll_timeout=1):
                await fake.wait_for_call(
                    "sendMessage", lambda call: call.params["chat_id"] == SENTINEL_USER, timeout=600
                )
                elapsed = time.perf_counter() - started
                # The moderators' cards may still be queued behind the staff groups' message limit.
                carded = sum(1 for case in store.cases(limit=count + 1) if case.route is not None)

                def posted() -> int:
                    return sum(
                        1
                        for call in fake.calls_to("sendMessage")
                        if call.params["chat_id"] in (MODS, OFFICER) and "reply_markup" in call.params
                    )

                await fake.wait_until(lambda: posted() >= carded, timeout=900)
                cards_done = time.perf_counter() - started
            calls = len([call for call in fake.calls_to() if call.ok])
            cases = len(store.cases(limit=count + 1))
            store.close()
    handled = count + 1
    return {
        "messages": handled,
        "seconds": elapsed,
        "per_second": handled / elapsed,
        "api_calls": calls,
        "cases": cases,
        "cards": carded,
        "cards_seconds": cards_done,
    }


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()} · Python {platform.python_version()}")
    for label, rate in (("Telegram's limits (20/min per group)", 20), ("per-group limit lifted", 100_000)):
        result = asyncio.run(run_once(args.messages, rate))
        print(
            f"{label:40} {result['messages']:5d} messages in {result['seconds']:6.1f} s = "
            f"{result['per_second']:7.1f} msg/s · {result['cases']} cases · "
            f"{result['api_calls']} Bot API calls · the {result['cards']} moderators' cards all posted after "
            f"{result['cards_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
