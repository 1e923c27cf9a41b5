"""The engine against the service's own policy: every clause, the ladder, routing and failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from moderation.engine import assess
from moderation.policy import Policy, default_policy_path, load_policy, parse_policy
from moderation.types import (
    ActionKind,
    AuthorHistory,
    Breach,
    Category,
    Decision,
    ModelScores,
    Role,
    Route,
    Strike,
)
from tests.factories import NOW, make_message

QUIET = ModelScores(scorer="test-model", labels={"toxicity": 0.01, "insult": 0.01, "threat": 0.01})


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def decide(
    policy: Policy,
    text: str,
    *,
    role: Role = Role.LEARNER,
    history: AuthorHistory | None = None,
    model: ModelScores = QUIET,
    photo: bool = False,
) -> Decision:
    return assess(make_message(text, role=role, photo=photo), history or AuthorHistory(), policy, NOW, model)


# Every enforced clause: a breach, and a near miss that must be allowed.
BREACHES = [
    ("4.1", Role.LEARNER, "This homework is shit", Category.CIVILITY),
    ("4.1", Role.LEARNER, "what the f*ck is this", Category.CIVILITY),
    ("4.2", Role.LEARNER, "Tariq you are so stupid", Category.HARASSMENT),
    ("4.2", Role.LEARNER, "I know where you live", Category.HARASSMENT),
    ("4.2", Role.LEARNER, "I'm going to batter you after class", Category.HARASSMENT),
    ("4.2", Role.LEARNER, "I will find you and hurt you", Category.HARASSMENT),
    ("4.3", Role.LEARNER, "anyone want some weed after class?", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "lets all get stoned before the exam", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "we should batter him when he leaves", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "join the cause and take up arms", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "I can sell you some pills cheap", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "I can sort you with pills for the weekend", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "come to my house for some coke tonight", Category.INCITEMENT),
    ("4.3", Role.LEARNER, "Don't be late lol. Anyone want some weed after class?", Category.INCITEMENT),
    (
        "4.3",
        Role.LEARNER,
        "We studied verbs today. Join the jihad brothers, take up arms",
        Category.INCITEMENT,
    ),
    ("4.2", Role.LEARNER, "u r a m0r0n", Category.HARASSMENT),
    ("4.2", Role.LEARNER, "I'm gonna smash your face in", Category.HARASSMENT),
    ("4.2", Role.LEARNER, "you are such a f*cking idiot", Category.HARASSMENT),
    ("4.5", Role.LEARNER, "Muslims are terrorists", Category.EXTREMISM),
    (
        "4.5",
        Role.LEARNER,
        "He said hello. All immigrants are vermin and should be deported",
        Category.EXTREMISM,
    ),
    ("4.4", Role.LEARNER, "This course is a total scam", Category.DEFAMATION),
    ("4.4", Role.LEARNER, "This college is a joke", Category.DEFAMATION),
    ("4.4", Role.LEARNER, "the tutor is useless and lazy", Category.DEFAMATION),
    ("4.5", Role.LEARNER, "all immigrants should go back home", Category.EXTREMISM),
    ("4.5", Role.LEARNER, "hitler was right", Category.EXTREMISM),
    ("4.7", Role.LEARNER, "my number is 07700 900123", Category.PERSONAL_DATA),
    ("4.1", Role.LEARNER, "send me nudes", Category.SEXUAL),
    ("4.1", Role.LEARNER, "you look so sexy today", Category.SEXUAL),
    ("4.10", Role.TUTOR, "Add me on my personal instagram", Category.STAFF_CONDUCT),
    ("4.11", Role.STAFF, "have a look at my personal facebook page", Category.STAFF_CONDUCT),
    ("4.13", Role.TUTOR, "you look gorgeous today, fancy a drink with me?", Category.STAFF_CONDUCT),
    ("4.12", Role.TUTOR, "Tom's mobile is 07700 900456", Category.PERSONAL_DATA),
    ("4.9", Role.TUTOR, "this is bullshit", Category.CIVILITY),
    ("5", Role.LEARNER, "My husband hits me and I'm scared to go home", Category.SAFEGUARDING),
    ("5", Role.LEARNER, "some days I want to kill myself", Category.SAFEGUARDING),
    ("5", Role.LEARNER, "sometimes I think about ending it all", Category.SAFEGUARDING),
    ("5", Role.LEARNER, "Nobody would miss me if I was gone", Category.SAFEGUARDING),
    ("5", Role.LEARNER, "That was a funny character. My dad hits me every night", Category.SAFEGUARDING),
    ("4.10", Role.TUTOR, "text me on my personal number", Category.STAFF_CONDUCT),
]

NEAR_MISSES = [
    ("4.1", "This homework is hard, I don't understand it"),
    ("4.1", "Scunthorpe is near Doncaster"),
    ("4.1a", "i no understand the homwork sorry my english not good"),
    ("4.2", "Tariq you are so kind"),
    ("4.2", "I know where the library is"),
    ("4.2", "this formula is killing me"),
    ("4.3", "we studied how propaganda radicalised people in the past"),
    ("4.3", "the drugs awareness talk was useful, never take pills from strangers"),
    ("4.3", "I smashed it in the test!"),
    ("4.4", "This college is great and the tutor is helpful"),
    ("4.5", "As a Muslim I am fasting this week"),
    ("4.5", "My husband and I moved here from Poland"),
    ("4.5", "in history we learned about the slogan sieg heil and why it is banned"),
    ("4.7", "class is in Room 12 at 10:30, the book costs £12.50"),
    ("4.7", "the exam is on 12/06/2026"),
    ("4.10", "Please use the class group for homework questions"),
    ("5", "the dentist hurt me yesterday lol"),
    ("4.1", "is the tea hot? you look so tired today"),
    ("5", "My husband hit the jackpot at bingo lol"),
    ("5", "My daughter beat me at chess"),
    ("5", "I want to die laughing"),
    ("4.3", "Can I take some pills for my headache?"),
    ("4.3", "Who wants some green tea?"),
    ("4.3", "Anyone want some coke? I bought a big bottle for the party"),
    ("4.3", "I can bring some speed cameras photo"),
    ("4.2", "I'll get you a coffee"),
    ("4.2", "You're dead right about that"),
    ("4.2", "you are not stupid, you are learning"),
]


@pytest.mark.parametrize(("clause", "role", "text", "category"), BREACHES)
def test_each_clause_is_breached_by_what_it_forbids(
    policy: Policy, clause: str, role: Role, text: str, category: Category
) -> None:
    decision = decide(policy, text, role=role)
    assert category in decision.flagged
    assert clause in decision.clauses
    assert decision.action is not ActionKind.ALLOW
    assert decision.reminder


@pytest.mark.parametrize(("clause", "text"), NEAR_MISSES)
def test_near_misses_are_allowed(policy: Policy, clause: str, text: str) -> None:
    decision = decide(policy, text)
    assert decision.action is ActionKind.ALLOW, decision.explanation
    assert decision.flagged == ()


def test_every_enforced_clause_has_a_breach_test(policy: Policy) -> None:
    tested = {clause for clause, *_ in BREACHES} | {"4.8"}  # 4.8 (photos): test_photo_without_consent_...
    enforced = {clause.id for clause in policy.clauses if clause.is_enforced}
    assert enforced <= tested


TUTOR_NEAR_MISSES = [
    ("4.13", "You look lovely in that photo, congratulations on your graduation"),
    ("4.13", "Looking beautiful today, the classroom displays are great"),
    ("4.13", "You're stunning at presentations, well done"),
    ("4.10", "Please don't tell anyone the answers before the test"),
    ("4.10", "My personal email is not for homework, use the college one"),
    ("4.11", "Please keep your personal facebook private, it is safer"),
    ("4.12", "The office number is on the letter you got"),
    ("4.9", "Great work today everyone, see you on Thursday"),
    ("4.8", "Here is the worksheet for next week"),
]


@pytest.mark.parametrize(("clause", "text"), TUTOR_NEAR_MISSES)
def test_tutor_near_misses_are_allowed(policy: Policy, clause: str, text: str) -> None:
    decision = decide(policy, text, role=Role.TUTOR)
    assert decision.action is ActionKind.ALLOW, decision.explanation


def test_every_enforced_clause_has_a_near_miss_test(policy: Policy) -> None:
    tested = {clause for clause, _ in NEAR_MISSES} | {clause for clause, _ in TUTOR_NEAR_MISSES}
    enforced = {clause.id for clause in policy.clauses if clause.is_enforced}
    assert enforced <= tested


def test_staff_conduct_rules_do_not_apply_to_learners(policy: Policy) -> None:
    decision = decide(policy, "Add me on my personal instagram")
    assert Category.STAFF_CONDUCT not in decision.flagged


def test_evidence_points_at_the_original_text(policy: Policy) -> None:
    text = "honestly Tariq y o u  a r e  s o  s t u p i d"
    decision = decide(policy, text)
    assert Category.HARASSMENT in decision.flagged
    item = next(e for e in decision.evidence if e.category is Category.HARASSMENT)
    assert item.start is not None and item.end is not None
    assert text[item.start : item.end].startswith("y o u")


def test_obfuscated_abuse_is_caught(policy: Policy) -> None:
    for text in ("you are an 1d10t", "you are an idiooooot", "you are an іdіоt", "you are an ｉｄｉｏｔ"):
        assert Category.HARASSMENT in decide(policy, text).flagged, text


def test_model_labels_map_to_categories_with_thresholds(policy: Policy) -> None:
    rude = ModelScores(scorer="m", labels={"toxicity": 0.93, "insult": 0.2})
    decision = decide(policy, "some words the phrase lists do not know", model=rude)
    assert decision.flagged == (Category.CIVILITY,)
    assert decision.scores[Category.CIVILITY] == pytest.approx(0.93)
    assert decision.evidence[0].kind == "toxicity"
    assert decision.scorer == "m"
    below = ModelScores(scorer="m", labels={"toxicity": 0.79})
    assert decide(policy, "some words", model=below).action is ActionKind.ALLOW


def test_civility_ladder_climbs_with_earlier_breaches(policy: Policy) -> None:
    text = "this homework is shit"
    breach = Breach(Category.CIVILITY, NOW - timedelta(days=2))
    first = decide(policy, text)
    second = decide(policy, text, history=AuthorHistory(breaches=(breach,)))
    third = decide(policy, text, history=AuthorHistory(breaches=(breach, breach)))
    assert [a.kind for a in first.actions] == [ActionKind.REMIND]
    assert [a.kind for a in second.actions] == [ActionKind.WARN]
    assert [a.kind for a in third.actions] == [ActionKind.HIDE, ActionKind.WARN, ActionKind.ESCALATE]
    assert third.route is Route.MODERATORS
    assert "2 earlier" in third.explanation


def test_breaches_in_another_category_do_not_climb_this_ladder(policy: Policy) -> None:
    other = Breach(Category.PERSONAL_DATA, NOW - timedelta(days=1))
    decision = decide(policy, "this homework is shit", history=AuthorHistory(breaches=(other, other)))
    assert [a.kind for a in decision.actions] == [ActionKind.REMIND]


def test_breaches_lapse_after_the_policy_period(policy: Policy) -> None:
    old = Breach(Category.CIVILITY, NOW - timedelta(days=policy.strike_lifetime_days + 1))
    decision = decide(policy, "this homework is shit", history=AuthorHistory(breaches=(old, old)))
    assert [a.kind for a in decision.actions] == [ActionKind.REMIND]


def test_decision_reports_active_warnings(policy: Policy) -> None:
    recent = Strike(Category.HARASSMENT, "4.2", NOW - timedelta(days=3))
    lapsed = Strike(Category.HARASSMENT, "4.2", NOW - timedelta(days=policy.strike_lifetime_days + 3))
    decision = decide(policy, "hello", history=AuthorHistory(strikes=(recent, lapsed)))
    assert decision.strikes == 1


def test_safeguarding_is_never_punished_and_goes_only_to_the_officer(policy: Policy) -> None:
    strikes = tuple(Strike(Category.HARASSMENT, "4.2", NOW) for _ in range(3))
    decision = decide(policy, "my boyfriend beats me, this is shit", history=AuthorHistory(strikes=strikes))
    kinds = {action.kind for action in decision.actions}
    assert Category.SAFEGUARDING in decision.flagged
    assert kinds == {ActionKind.REMIND, ActionKind.ESCALATE}
    assert decision.route is Route.SAFEGUARDING
    # The support message for its urgency at the hour it came (never a rule's reminder).
    assert decision.reminder_keys == (policy.support_key(decision.urgency, NOW),)
    assert decision.reminder is not None and "You are not in trouble" in decision.reminder
    assert "999" in decision.reminder


def test_staff_conduct_is_escalated_privately_without_a_warning(policy: Policy) -> None:
    decision = decide(policy, "message me on my personal whatsapp, don't tell the office", role=Role.TUTOR)
    assert [a.kind for a in decision.actions] == [ActionKind.ESCALATE]
    assert decision.route is Route.SAFEGUARDING


def test_a_failed_scorer_holds_the_message_for_review(policy: Policy) -> None:
    broken = ModelScores(scorer="detoxify:unbiased-small", error="out of memory")
    decision = decide(policy, "a perfectly ordinary message", model=broken)
    assert decision.action is ActionKind.ESCALATE
    assert decision.route is Route.MODERATORS
    assert "failed" in decision.scorer
    assert "out of memory" in decision.explanation
    assert decision.reminder == policy.scorer_failure_reminder


def test_photo_without_consent_gets_a_private_reminder(policy: Policy) -> None:
    decision = decide(policy, "our trip", photo=True)
    assert decision.flagged == (Category.PHOTO_CONSENT,)
    assert [a.kind for a in decision.actions] == [ActionKind.REMIND]
    assert "4.8" in decision.clauses
    consented = decide(policy, "our trip", photo=True, history=AuthorHistory(has_photo_consent=True))
    assert consented.action is ActionKind.ALLOW


def test_a_tutors_photo_reminder_speaks_to_a_tutor(policy: Policy) -> None:
    learner = decide(policy, "our trip", photo=True)
    tutor = decide(policy, "our trip", role=Role.TUTOR, photo=True)

    assert learner.reminder is not None and "Ask your tutor" in learner.reminder
    assert tutor.clauses == ("4.8",) and tutor.reminder is not None
    assert "Ask your tutor" not in tutor.reminder and "/consent" in tutor.reminder


def test_photo_caption_is_assessed_like_text(policy: Policy) -> None:
    decision = decide(
        policy,
        "look at this idiot, you are so stupid",
        photo=True,
        history=AuthorHistory(has_photo_consent=True),
    )
    assert Category.HARASSMENT in decision.flagged


def test_the_same_input_gives_the_same_decision(policy: Policy) -> None:
    message = make_message("Tariq you are so stupid, my number is 07700 900123")
    first = assess(message, AuthorHistory(), policy, NOW, QUIET)
    second = assess(message, AuthorHistory(), policy, NOW, QUIET)
    assert first == second


def test_several_categories_share_one_set_of_actions(policy: Policy) -> None:
    decision = decide(policy, "you are so stupid, text me on 07700 900123")
    assert set(decision.flagged) == {Category.HARASSMENT, Category.PERSONAL_DATA}
    kinds = [a.kind for a in decision.actions]
    assert kinds.count(ActionKind.HIDE) == 1
    assert kinds.index(ActionKind.HIDE) == 0


def test_a_helpline_or_published_contact_passed_on_is_not_personal_data(policy: Policy) -> None:
    own = parse_policy(
        default_policy_path()
        .read_text(encoding="utf-8")
        .replace("public_contacts:\n", "public_contacts:\n  - '0151 934 2996'  # reception\n", 1)
    )
    for text in (
        "if things get bad you can ring Childline on 0800 1111, it's free",
        "the domestic abuse helpline is 0808 2000 247, any time",
        "if someone hacks your account ring Childline on 0800 1111",  # found as a bank account there
    ):
        assert not decide(policy, text).is_flagged, text
    for text in (
        "my mob: childline 0800 1111 ext 07911 123456 lol",  # a private number as an "extension"
        "ring me 0800 1111 #07911123456",
        "text 0800 1111 07911 123456",  # a private number right after a public one
    ):
        assert decide(policy, text).flagged == (Category.PERSONAL_DATA,), text
    assert not decide(own, "ring reception on +44 (0)151 934 2996 if you're going to be late").is_flagged
    assert decide(policy, "ring reception on 0151 934 2996").flagged == (Category.PERSONAL_DATA,)

    text = "reception is 0151 934 2996 but text me on 07911 123456"
    mixed = decide(own, text)
    assert mixed.flagged == (Category.PERSONAL_DATA,)
    found = [text[e.start : e.end] for e in mixed.evidence if e.category is Category.PERSONAL_DATA]
    assert found == ["07911 123456"]  # the learner's own number, not reception's
