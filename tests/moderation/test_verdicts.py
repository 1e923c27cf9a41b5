"""What a case's card offers and what a warning records: one rule, whatever path decides."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from moderation.policy import load_policy
from moderation.types import Category, Role, Route
from moderation.verdicts import CaseKind, Verb, case_kind, is_sanction, offered_verbs, reroute_for, strike_for

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
POLICY = load_policy()
categories = st.lists(st.sampled_from(list(Category)), unique=True)


routes = st.sampled_from([None, *Route])


@given(categories, routes, st.booleans(), st.booleans(), st.booleans())
def test_no_card_of_a_disclosure_offers_a_sanction(
    flagged: list[Category], route: Route | None, hidden: bool, ack: bool, back: bool
) -> None:
    offered = offered_verbs(
        [*flagged, Category.SAFEGUARDING], route, is_hidden=hidden, is_acknowledged=ack, was_handed_back=back
    )

    assert not any(is_sanction(verb) for verb in offered)
    assert Verb.UPHOLD not in offered and Verb.RESTORE not in offered


@given(categories, st.sampled_from(list(Role)))
def test_a_disclosure_never_earns_a_strike(flagged: list[Category], role: Role) -> None:
    assert strike_for([*flagged, Category.SAFEGUARDING], ["4.1", "5"], role, POLICY, NOW) is None


def test_a_staff_conduct_concern_goes_to_the_officer_without_sanctions() -> None:
    flagged = [Category.STAFF_CONDUCT, Category.SEXUAL]

    assert case_kind(flagged) is CaseKind.STAFF_CONDUCT
    assert offered_verbs(flagged, Route.SAFEGUARDING, is_hidden=False) == (
        Verb.ACKNOWLEDGE,
        Verb.HIDE,
        Verb.ACTION_TAKEN,
        Verb.REFER_ON,
        Verb.NO_CONCERN,
    )


def test_conduct_offers_restore_only_once_hidden_and_the_officer_stops_being_asked_to_acknowledge() -> None:
    assert Verb.RESTORE not in offered_verbs([Category.CIVILITY], Route.MODERATORS, is_hidden=False)
    assert Verb.RESTORE in offered_verbs([Category.CIVILITY], Route.MODERATORS, is_hidden=True)
    assert Verb.ACKNOWLEDGE not in offered_verbs(
        [Category.SAFEGUARDING], Route.SAFEGUARDING, is_hidden=False, is_acknowledged=True
    )
    assert Verb.HIDE not in offered_verbs([Category.SAFEGUARDING], Route.SAFEGUARDING, is_hidden=True)


@given(categories, st.booleans())
def test_conduct_with_the_officer_gets_the_officers_decisions_and_no_sanction(
    flagged: list[Category], hidden: bool
) -> None:
    # Referred by moderators, or routed to the officer by the policy: acknowledged and climbing the
    # rota like a disclosure, never a sanction from the officer's card.
    offered = offered_verbs(flagged, Route.SAFEGUARDING, is_hidden=hidden)

    assert Verb.NO_CONCERN in offered and (Verb.ACKNOWLEDGE in offered)
    assert not any(is_sanction(verb) for verb in offered) and Verb.REFER not in offered


def test_a_referral_moves_the_case_and_the_officers_no_concern_on_conduct_hands_it_back() -> None:
    conduct, disclosure = [Category.HARASSMENT], [Category.SAFEGUARDING, Category.HARASSMENT]

    assert reroute_for(Verb.REFER, conduct) is Route.SAFEGUARDING
    assert reroute_for(Verb.NO_CONCERN, conduct) is Route.MODERATORS
    assert reroute_for(Verb.NO_CONCERN, disclosure) is None  # closes: the bot was wrong
    assert reroute_for(Verb.ACTION_TAKEN, conduct) is None
    # Handed back, it is the moderators' to decide, and not referred round again.
    assert Verb.REFER not in offered_verbs(conduct, Route.MODERATORS, is_hidden=False, was_handed_back=True)
    assert Verb.WARN in offered_verbs(conduct, Route.MODERATORS, is_hidden=False, was_handed_back=True)


def test_a_strike_is_recorded_under_a_clause_covering_its_category() -> None:
    strike = strike_for([Category.HARASSMENT], ["9.9", "4.2"], Role.LEARNER, POLICY, NOW)

    assert strike is not None and (strike.category, strike.clause_id, strike.at) == (
        Category.HARASSMENT,
        "4.2",
        NOW,
    )
