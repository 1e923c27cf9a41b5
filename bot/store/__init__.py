"""The case store: intent-named, synchronous storage that speaks the core's vocabulary.

Only what moderators need is kept (flagged messages as cases, their action log, strikes, consents,
groups, roles, appeals); unflagged messages leave nothing but their ids. Every database failure is
raised as :class:`~bot.errors.StorageError` naming the URL with its password masked, and
nothing here logs message text or puts it into an error (the engine hides SQL parameters too).

On SQLite the store turns on WAL, foreign keys and ``secure_delete`` (freed space is zeroed, so
purged text does not linger in the file) and checkpoints the WAL after a purge. On PostgreSQL the
old row versions stay in the table file until (auto)vacuum reclaims them.

Given keys (``CLASSMOD_DATA_KEYS``), the store seals what people wrote before it is written (case
texts, authors' names, action-log details, appeal reasons, officers' notes, the inbound journal's
payloads: see
:mod:`bot.sealing`) and opens it as it is read; :meth:`Store.open` refuses a store holding sealed
values that no configured key opens.

The package is cut by aggregate, one module each: handled messages (:mod:`~bot.store.seen`), read
marks, cases with their action log, appeals, strikes, people (consents and roles), languages, groups, leases,
the inbound journal, retention (purge, re-seal, counts), the audit log, alerts (the rota's steps,
reminders, digests), officers' notes on cases, the web console's sign-in and its
outbox. Each holds a mixin over
:class:`~bot.store.engine.StoreEngine` (the engine, opening, sessions and ``_guard``), and
:class:`Store` is their union. Mixins rather than a facade delegating to one repository per
aggregate: callers keep one object with the same methods, and no method is written twice (a
delegating facade would repeat every signature and docstring). Where one aggregate needs another,
its mixin extends that one: appeals build on cases (deciding an appeal is logged on its case), and
strikes on people (an author's history says whether they gave photo consent). The records handed
out, and their conversion to and from rows, live in :mod:`bot.records`; the tables in
:mod:`bot.tables`.
"""

from __future__ import annotations

from bot.records import ActionRecord, AppealRecord, CaseRecord, GroupRecord, JournalledUpdate
from bot.schema import SchemaUpgrade
from bot.store.alerts import AlertRecord, AlertStore
from bot.store.appeals import AppealStore
from bot.store.audit import AuditStore
from bot.store.cases import CASE_STATUSES, OUTCOMES, CaseStore
from bot.store.console import ConsoleSession, ConsoleStore
from bot.store.groups import GroupStore
from bot.store.journal import JournalStore
from bot.store.languages import LanguageChoice, LanguageStore, UnassessedCount
from bot.store.leases import LeaseStore
from bot.store.notes import CaseNote, NoteStore
from bot.store.outbox import OutboxItem, OutboxStore
from bot.store.people import PeopleStore
from bot.store.read_marks import ReadMarkStore
from bot.store.response_times import ResponseTime, ResponseTimeStore
from bot.store.retention import RetentionStore
from bot.store.seen import SeenMessageStore
from bot.store.strikes import StrikeStore

__all__ = [
    "CASE_STATUSES",
    "OUTCOMES",
    "ActionRecord",
    "AlertRecord",
    "AppealRecord",
    "CaseNote",
    "CaseRecord",
    "ConsoleSession",
    "GroupRecord",
    "JournalledUpdate",
    "LanguageChoice",
    "OutboxItem",
    "ResponseTime",
    "SchemaUpgrade",
    "Store",
    "UnassessedCount",
]


class Store(
    SeenMessageStore,
    ReadMarkStore,
    AppealStore,
    NoteStore,
    CaseStore,
    StrikeStore,
    PeopleStore,
    LanguageStore,
    GroupStore,
    LeaseStore,
    JournalStore,
    RetentionStore,
    AuditStore,
    ResponseTimeStore,
    AlertStore,
    ConsoleStore,
    OutboxStore,
):
    """Cases, strikes, consents, groups and people, in SQLite or PostgreSQL.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///classmod.db`` or
            ``postgresql+psycopg://user:password@host/db``.
        connect_args: extra arguments for the database driver's ``connect()``.
        sealer: seals texts on write and opens them on read; none: texts are stored in clear.

    Raises:
        StorageError: the URL cannot be used.

    """
