"""Which card a case has where: read back from the action log the bot and the reviews write."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.base import ReviewAction
from bot.cards import PostedCard, posted_card, posted_detail
from bot.records import ActionRecord
from moderation.types import Route

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _logged(action: str, outcome: str, detail: str | None) -> ActionRecord:
    return ActionRecord(id=1, case_id=7, actor="bot", action=action, outcome=outcome, detail=detail, at=AT)


def test_the_latest_card_posted_is_found_with_its_chat_and_a_failed_post_is_not() -> None:
    referral = f"{ReviewAction.POST_CARD.value}-done"
    log = [
        _logged("escalate", "ok", posted_detail("101", Route.MODERATORS)),
        _logged("warn", "ok", None),
        _logged(referral, "ok", posted_detail("202", Route.SAFEGUARDING)),
        _logged(referral, "failed", "Forbidden: the bot cannot post there"),
    ]

    assert posted_card(log) == PostedCard("202", Route.SAFEGUARDING)
    assert posted_card(log[:2]) == PostedCard("101", Route.MODERATORS)
    # Logged before cards noted their chat: the id alone (the case's route says where).
    assert posted_card([_logged("escalate", "ok", "posted as message 55")]) == PostedCard("55", None)
    assert posted_card([_logged("escalate", "failed", "posted as message 55")]) is None
