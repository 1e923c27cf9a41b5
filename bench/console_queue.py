"""How fast the web console's queue page answers with 10,000 cases in PostgreSQL (issue 17: p95 < 100 ms).

Run it with ``.venv/bin/python bench/console_queue.py [--url URL] [--cases N] [--requests N]``. It creates a
fresh schema in the PostgreSQL database named by ``--url`` (default: the tests' server,
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), writes N cases (ordinary and safeguarding, over
30 groups and 60 days, a fifth of them still open), signs a moderator and an officer in, and times the
queue page over HTTP through the real app (Starlette's test client: the app, the store and the
database, no network), unfiltered and filtered, then drops the schema. It prints percentiles; it is a
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.config import load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import issue_link
from moderation.policy import load_policy
from moderation.types import Action, ActionKind, Author, Category, ChatMessage, Decision, Role, Route, Urgency

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CATEGORIES = (
    Category.CIVILITY,
    Category.HARASSMENT,
    Category.PERSONAL_DATA,
    Category.SEXUAL,
    Category.INCITEMENT,
)


class _Fixed:
    """The clock at one moment (the bench's cases are aged against it)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        return None


def _fill(store: Store, count: int, now: datetime) -> None:
    for index in range(count):
        safeguarding = index % 10 == 0
        category = Category.SAFEGUARDING if safeguarding else CATEGORIES[index % len(CATEGORIES)]
        route = Route.SAFEGUARDING if safeguarding else Route.MODERATORS
        posted = now - timedelta(minutes=index * 8)
        decision = Decision(
            scores={category: 0.9},
            flagged=(category,),
            evidence=(),
            clauses=("4.1",),
            actions=(Action(ActionKind.ESCALATE, route),),
            reminder=None,
            explanation="bench",
            scorer="bench",
            urgency=Urgency.HIGH if safeguarding else None,
        )
        message = ChatMessage(
            platform="telegram",
            chat_id=str(-1001000000000 - index % 30),
            message_id=str(index),
            author=Author(
                id=str(10_000 + index % 700), display_name=f"Learner {index % 700}", role=Role.LEARNER
            ),
            text=f"message {index} in the class group, long enough to be a real one",
            sent_at=posted,
        )
        case = store.record_case(message, decision, posted)
        if index % 5:
            store.claim_case(case.id, "upheld", actor="3001", at=posted + timedelta(hours=1))


def _time(client: TestClient, path: str, requests: int) -> list[float]:
    client.get(path)  # warm
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    schema = f"classmod_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        store = Store.open(args.url, connect_args={"options": f"-csearch_path={schema}"})
        now = datetime.now(UTC)
        started = time.perf_counter()
        _fill(store, args.cases, now)
        print(f"{args.cases} cases written in {time.perf_counter() - started:.0f} s")
        settings = load_settings(telegram_moderators=[3001], telegram_safeguarding_officers=[4001])
        app = create_app(store=store, policy=load_policy(), settings=settings, clock=_Fixed(now))
        print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for user in ("3001", "4001"):
            with TestClient(app) as client:
                token = issue_link(store, settings, "telegram", user, now).rsplit("/", 1)[1]
                client.post("/signin", data={"token": token})
                role = "officer" if user == "4001" else "moderator"
                for path in ("/", "/?category=harassment", "/?group=-1001000000007", "/?age=1d&level=high"):
                    times = sorted(_time(client, path, args.requests))
                    p95 = times[int(len(times) * 0.95) - 1]
                    label = f"{role} {path}"
                    print(f"{label:44} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}")
        store.close()
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
