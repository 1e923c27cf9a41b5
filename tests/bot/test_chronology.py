"""``classmod safeguarding chronology``: a case's record for the learner's safeguarding file (issue 16)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.chronology import chronology, to_markdown, write_pdf
from bot.store import Store
from moderation.types import Action, ActionKind, Category, Decision, Evidence, Route, Urgency
from tests.bot.test_cli import Cli, cli  # noqa: F401  (the fixture)
from tests.factories import make_message

POSTED = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)  # a Friday night, before the test runs
TEXT = "I took all my tablets | <b>please</b> تعبت"


def _disclosure(store: Store) -> int:
    decision = Decision(
        scores={Category.SAFEGUARDING: 0.97},
        flagged=(Category.SAFEGUARDING,),
        evidence=(Evidence(Category.SAFEGUARDING, kind="overdose", source="heads", score=0.97),),
        clauses=("5",),
        actions=(Action(ActionKind.REMIND), Action(ActionKind.ESCALATE, Route.SAFEGUARDING)),
        reminder=None,
        explanation="",
        scorer="heads:minilm",
        urgency=Urgency.IMMEDIATE,
    )
    case = store.record_case(make_message(TEXT), decision, POSTED)
    store.record_action(case.id, "remind", "ok", at=POSTED + timedelta(seconds=1))
    store.record_action(case.id, "escalate", "ok", at=POSTED + timedelta(seconds=2))
    store.record_alert(
        case.id,
        step=1,
        position=0,
        recipient="Olu (officer)",
        outcome="refused",
        detail="private messages closed",
        at=POSTED + timedelta(seconds=10),
    )
    store.record_alert(
        case.id,
        step=2,
        position=2,
        recipient="Kit (out-of-hours contact)",
        outcome="ok",
        at=POSTED + timedelta(minutes=15, seconds=10),
    )
    store.record_alert(
        case.id,
        step=2,
        position=None,
        recipient="safeguarding chat",
        outcome="ok",
        at=POSTED + timedelta(minutes=15, seconds=10),
    )
    store.record_action(case.id, "ack", "ok", actor="4003", at=POSTED + timedelta(minutes=21))
    store.add_note(
        case.id,
        actor="4003",
        actor_name="Kit",
        text="Rang 999; ambulance sent.",
        at=POSTED + timedelta(minutes=25),
    )
    store.record_action(case.id, "referon", "ok", actor="4003", at=POSTED + timedelta(minutes=40))
    return case.id


def test_the_chronology_tells_who_saw_and_did_what_and_when(cli: Cli) -> None:  # noqa: F811
    store = Store.open(cli.database_url)
    try:
        case_id = _disclosure(store)
    finally:
        store.close()
    cli.setenv("CLASSMOD_TELEGRAM_SAFEGUARDING_OFFICERS", "[4001]")
    cli.setenv(
        "CLASSMOD_SAFEGUARDING_ROTA",
        json.dumps([{"name": "Kit", "duty": "out-of-hours contact", "telegram": 4003}]),
    )

    refused = cli("safeguarding", "chronology", str(case_id))
    stranger = cli("safeguarding", "chronology", str(case_id), "--as", "telegram:5001")
    written = cli("safeguarding", "chronology", str(case_id), "--as", "telegram:4003", "--out", "file")

    assert refused.exit_code == 1 and "safeguarding officer" in refused.stderr
    assert stranger.exit_code == 1 and "not a safeguarding officer" in " ".join(stranger.stderr.split())
    assert written.exit_code == 0, written.output
    markdown = (cli.directory / "file" / f"case-{case_id}-chronology.md").read_text(encoding="utf-8")
    pdf = cli.directory / "file" / f"case-{case_id}-chronology.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-") and len(pdf.read_bytes()) > 1000
    for path in (pdf, pdf.with_suffix(".md")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a learner's safeguarding record
    rows = [line for line in markdown.splitlines() if line.startswith("| 2026")]
    whats = [row.split(" | ", 3)[2:] for row in rows]
    assert [" | ".join(item) for item in whats] == [
        "Message posted in group class-1 |",
        "Detected: safeguarding (overdose); urgency immediate; scorer heads:minilm |",
        "Support message sent to the learner privately |",
        "Card posted in the safeguarding chat |",
        "Rota step 1: card sent privately to Olu (officer): refused (private messages closed) |",
        "Rota step 2: card sent privately to Kit (out-of-hours contact) |",
        "Rota step 2: card posted again in the staff chat |",
        "Acknowledged |",
        "Note: Rang 999; ambulance sent. |",
        "Closed: referred on |",
        "Viewed the case (chronology, cli) |",
    ]
    plain = markdown.replace("\\-", "-")
    assert "| Kit (out-of-hours contact) | Acknowledged |" in plain
    assert "| Kit (out-of-hours contact) | Viewed the case (chronology, cli) |" in plain
    assert "**First answered:** 21 min after the message, by Kit (out-of-hours contact)" in markdown
    # The learner's words, exactly, but never read as markup or a table column.
    assert "> I took all my tablets \\| \\<b\\>please\\</b\\> تعبت" in markdown


def test_without_a_font_for_every_script_the_pdf_is_latin_only_and_says_so(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        case = store.get_case(_disclosure(store))
        assert case is not None
        record = chronology(store, case, names={}, made_by="telegram:4001", now=POSTED + timedelta(hours=1))
    finally:
        store.close()
    latin = tmp_path / "latin.pdf"
    assert write_pdf(record, latin, font=tmp_path / "no-such-font.ttf") is False
    assert latin.read_bytes().startswith(b"%PDF-")
    assert "4003" in to_markdown(record)  # no name known for the id: the id itself


def test_a_referred_case_tells_where_each_card_went_and_when_the_officer_answered(tmp_path: Path) -> None:
    decision = Decision(
        scores={Category.HARASSMENT: 0.9},
        flagged=(Category.HARASSMENT,),
        evidence=(),
        clauses=("4.2",),
        actions=(Action(ActionKind.ESCALATE, Route.MODERATORS),),
        reminder=None,
        explanation="",
        scorer="heads:minilm",
    )
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        case = store.record_case(make_message("leave me alone or else"), decision, POSTED)
        store.record_action(case.id, "escalate", "ok", at=POSTED + timedelta(seconds=1))
        store.reroute_case(case.id, from_route=case.route, to_route=Route.SAFEGUARDING)
        store.record_action(case.id, "refer", "ok", actor="3001", at=POSTED + timedelta(minutes=5))
        store.record_action(case.id, "card-done", "ok", actor="3001", at=POSTED + timedelta(minutes=5))
        store.record_action(case.id, "ack", "ok", actor="4001", at=POSTED + timedelta(minutes=30))
        referred = store.get_case(case.id)
        assert referred is not None
        record = chronology(
            store, referred, names={"4001": "Olu"}, made_by="telegram:4001", now=POSTED + timedelta(hours=1)
        )
    finally:
        store.close()
    assert [entry.what for entry in record.entries[2:]] == [
        "Card posted in the moderators' chat",
        "Referred to the safeguarding officer by the moderators",
        "Card posted in the safeguarding chat",
        "Acknowledged",
    ]
    assert record.answered_after == timedelta(minutes=30) and record.answered_by == "Olu"
