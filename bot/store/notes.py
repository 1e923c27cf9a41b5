"""Officers' notes on a case, added from its card: part of the case's chronology, sealed like its text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from bot.store.cases import CaseStore
from bot.store.engine import _utc
from bot.tables import CaseNoteRow

__all__ = ["CaseNote", "NoteStore"]

MAX_NOTE = 4000


@dataclass(frozen=True, slots=True)
class CaseNote:
    """A note on a case: who wrote it, what (``None`` once purged with the case's text), when."""

    case_id: int
    actor: str
    actor_name: str
    text: str | None
    at: datetime


class NoteStore(CaseStore):
    """Adds and reads officers' notes (on cases: a note names its case)."""

    def add_note(self, case_id: int, *, actor: str, actor_name: str, text: str, at: datetime) -> CaseNote:
        """Add a note to a case (cut to 4,000 characters).

        Raises:
            ValueError: the note is empty, or there is no such case.
        """
        text = text.strip()[:MAX_NOTE]
        if not text:
            raise ValueError("a note needs some text")
        row = CaseNoteRow(
            case_id=case_id,
            actor=actor,
            actor_name=self._sealer.seal(actor_name[:200]),
            text=self._sealer.seal(text),
            at=_utc(at),
        )
        with self._guard("add a note"), self._session() as session:
            self._insert_for_case(session, row, case_id)
        return CaseNote(case_id, actor, actor_name[:200], text, _utc(at))

    def notes(self, case_id: int) -> list[CaseNote]:
        """A case's notes, oldest first."""
        query = (
            select(CaseNoteRow)
            .where(col(CaseNoteRow.case_id) == case_id)
            .order_by(col(CaseNoteRow.at), col(CaseNoteRow.id))
        )
        with self._guard("read notes"), self._session() as session:
            return [
                CaseNote(
                    row.case_id,
                    row.actor,
                    self._sealer.open(row.actor_name) or "",
                    self._sealer.open(row.text),
                    _utc(row.at),
                )
                for row in session.exec(query)
            ]
