"""Policy files: the service's rules as data, validated with line numbers and compiled once.

A policy file (YAML) lists every clause of the source policy, the categories that breach each
clause, a threshold and an action ladder per category, how model labels map to categories, and
the phrase detectors for what no model scores (incitement, extremism, defamation, staff conduct,
safeguarding). ``load_policy`` turns it into an immutable :class:`Policy`; every problem is a
:class:`PolicyError` naming the file, the line and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from moderation.errors import PolicyError
from moderation.patterns import Pattern, PatternError, compile_patterns
from moderation.scorers.personal_data import contact_key, contact_keys, find_personal_data, is_valid_phone
from moderation.types import ActionKind, Category, Role, Route

__all__ = [
    "Audience",
    "CategoryRule",
    "Clause",
    "DetectorRule",
    "Policy",
    "default_policy_path",
    "load_policy",
]

DEFAULT_POLICY = "scls.yaml"
_MAX_PROBLEMS = 10
# A policy file is input too: bounds that no real policy comes near (the shipped one is 40 kB, 8 deep,
# 1,500 values) and that stop a hostile file's alias bomb or deep nesting from hanging or crashing a load.
_MAX_CHARACTERS = 1 << 20
_MAX_DEPTH = 32
_MAX_VALUES = 100_000

_Problem = tuple[int | None, str]
"""A problem in a policy file: its line (when known) and what is wrong."""


class Audience(StrEnum):
    """Who a clause or a detector applies to."""

    EVERYONE = "everyone"
    LEARNERS = "learners"
    STAFF = "staff"

    def includes(self, role: Role) -> bool:
        """Whether someone with this role is bound by it."""
        if self is Audience.EVERYONE:
            return True
        return role.is_staff == (self is Audience.STAFF)


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of the source policy."""

    id: str
    title: str
    wording: str
    applies_to: Audience
    categories: tuple[Category, ...]
    is_enforced: bool
    not_enforced_reason: str | None
    reminder: str | None
    staff_reminder: str | None = None

    def reminder_for(self, role: Role) -> str | None:
        """The reminder this author gets: the staff wording where there is one and the author is staff."""
        if role.is_staff and self.staff_reminder:
            return self.staff_reminder
        return self.reminder


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """How a category is judged: the score that flags it and what each breach leads to.

    ``ladder[n]`` holds the actions for an author with ``n`` earlier breaches in this category
    that have not lapsed (the last step repeats).
    """

    category: Category
    threshold: float
    ladder: tuple[tuple[ActionKind, ...], ...]
    route: Route
    head_precision: float | None = None
    """The trained head's target: of the messages it flags, at least this share truly breach."""
    head_false_positive_rate: float | None = None
    """The trained head's target: at most this share of ordinary messages flagged."""

    def step(self, earlier_breaches: int) -> tuple[ActionKind, ...]:
        """The actions for an author with this many earlier breaches in the category."""
        return self.ladder[min(earlier_breaches, len(self.ladder) - 1)]


@dataclass(frozen=True, slots=True)
class DetectorRule:
    """A phrase detector: patterns over normalised text that score one category.

    ``unless`` suppresses a match when it matches in the same sentence (or anywhere in the
    message, when ``unless_in_message``): "we studied how propaganda radicalised people".
    """

    id: str
    category: Category
    score: float
    applies_to: Audience
    pattern: Pattern
    unless: Pattern | None
    clause_id: str | None = None
    unless_in_message: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy, ready for the engine."""

    id: str
    name: str
    version: str
    source: str
    clauses: tuple[Clause, ...]
    categories: Mapping[Category, CategoryRule]
    model_labels: Mapping[str, Category]
    detectors: tuple[DetectorRule, ...]
    idioms: Pattern | None
    strike_lifetime_days: int
    support_message: str
    scorer_failure_reminder: str | None
    # The service's own published contacts (``contact_key`` form): not a learner's personal data.
    public_contacts: frozenset[str] = frozenset()

    def is_public_contact(self, found: str) -> bool:
        """Whether this text is one of the published phone numbers or addresses, however it is written."""
        return bool(self.public_contacts) and not self.public_contacts.isdisjoint(contact_keys(found))

    def clauses_for(self, category: Category, role: Role) -> tuple[Clause, ...]:
        """The enforced clauses that this category breaches for someone with this role."""
        return tuple(
            clause
            for clause in self.clauses
            if clause.is_enforced and category in clause.categories and clause.applies_to.includes(role)
        )

    def detector(self, detector_id: str) -> DetectorRule | None:
        """The phrase detector with this id, if there is one."""
        for rule in self.detectors:
            if rule.id == detector_id:
                return rule
        return None

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id.

        Raises:
            KeyError: no clause has this id.
        """
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)


def default_policy_path() -> Path:
    """The policy file that ships inside the package (the service's own policy)."""
    return Path(str(resources.files("policies").joinpath(DEFAULT_POLICY)))


def load_policy(path: Path | str | None = None) -> Policy:
    """Read, validate and compile a policy file.

    Args:
        path: the YAML file; the bundled policy when ``None``.

    Raises:
        PolicyError: the file is missing, not YAML, or breaks a rule; the message has the line.
    """
    file_path = Path(path) if path is not None else default_policy_path()
    try:
        source = file_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"cannot read the policy file ({exc.__class__.__name__}: {exc})", path=str(file_path)
        ) from exc
    return parse_policy(source, name=str(file_path))


def parse_policy(source: str, *, name: str = "policy") -> Policy:
    """Validate and compile policy YAML held in a string (``name`` is used in errors).

    Raises:
        PolicyError: every problem found (up to ten), each with its line; ``line`` is the first's.
    """
    if len(source) > _MAX_CHARACTERS:
        raise PolicyError(
            f"the file has {len(source):,} characters, over the {_MAX_CHARACTERS:,} a policy file may have",
            path=name,
        )
    try:
        _check_depth(source, name)
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"not valid YAML: {problem}", path=name, line=line) from exc
    if node is None:
        raise PolicyError("the file is empty; start from policies/scls.yaml", path=name, line=1)
    lines: dict[tuple[Any, ...], int] = {}
    problems: list[_Problem] = []
    unreadable: set[tuple[Any, ...]] = set()
    try:
        data = _to_python(node, (), lines, problems, unreadable, frozenset())
    except _TooManyValues as exc:
        raise PolicyError(
            f"the file expands to more than {_MAX_VALUES:,} values (aliases repeating aliases?); "
            "write the values out",
            path=name,
            line=exc.line,
        ) from None
    try:
        document = _PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems += [
            _schema_problem(error, lines)
            for error in exc.errors()
            if tuple(error["loc"]) not in unreadable  # already reported as unreadable
        ]
        raise _policy_error(problems, name) from exc
    if problems:
        raise _policy_error(problems, name)
    return _compile(document, name, lines)


# --- the file's schema -----------------------------------------------------------------------

_Action = Literal["remind", "warn", "hide", "escalate"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ClauseFile(_Strict):
    id: str
    title: str
    wording: str
    applies_to: Audience = Audience.EVERYONE
    categories: list[Category] = Field(default_factory=list)
    enforced: bool = True
    not_enforced_reason: str | None = None
    reminder: str | None = None
    staff_reminder: str | None = None


def _has_an_action(step: list[_Action]) -> list[_Action]:
    if not step:
        raise ValueError("a ladder step needs at least one action (remind, warn, hide or escalate)")
    return step


_Step = Annotated[list[_Action], AfterValidator(_has_an_action)]


class _CategoryFile(_Strict):
    threshold: float = Field(ge=0.0, le=1.0)
    route: Route = Route.MODERATORS
    ladder: list[_Step] = Field(min_length=1)
    head_precision: float | None = Field(default=None, gt=0.0, le=1.0)
    head_false_positive_rate: float | None = Field(default=None, ge=0.0, lt=1.0)


class _DetectorFile(_Strict):
    id: str
    category: Category
    score: float = Field(default=0.9, ge=0.0, le=1.0)
    applies_to: Audience = Audience.EVERYONE
    patterns: list[str] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)
    unless_scope: Literal["sentence", "message"] = "sentence"
    clause: str | None = None


class _PolicyFile(_Strict):
    id: str
    name: str
    version: str
    source: str
    strike_lifetime_days: int = Field(ge=1, le=3650)
    support_message: str
    scorer_failure_reminder: str | None = None
    model_labels: dict[str, Category]
    categories: dict[Category, _CategoryFile]
    clauses: list[_ClauseFile] = Field(min_length=1)
    detectors: list[_DetectorFile] = Field(default_factory=list)
    idioms: list[str] = Field(default_factory=list)
    public_contacts: list[str] = Field(default_factory=list)

    @field_validator("public_contacts", mode="before")
    @classmethod
    def _contacts_quoted(cls, value: object) -> object:
        if isinstance(value, list) and any(not isinstance(item, str) for item in value):
            raise ValueError(
                'write each entry in quotes, e.g. - "0151 934 2996": unquoted, YAML reads a number as a '
                "number and drops its leading 0"
            )
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


# --- compiling ---------------------------------------------------------------------------------


def _compile(document: _PolicyFile, name: str, lines: dict[tuple[Any, ...], int]) -> Policy:
    problems: list[_Problem] = []
    clauses = tuple(
        Clause(
            id=clause.id,
            title=clause.title,
            wording=" ".join(clause.wording.split()),
            applies_to=clause.applies_to,
            categories=tuple(clause.categories),
            is_enforced=clause.enforced,
            not_enforced_reason=clause.not_enforced_reason,
            reminder=clause.reminder.strip() if clause.reminder else None,
            staff_reminder=clause.staff_reminder.strip() if clause.staff_reminder else None,
        )
        for clause in document.clauses
    )
    seen: set[str] = set()
    for index, clause in enumerate(clauses):
        where = _line_of(("clauses", index), lines)
        if clause.id in seen:
            problems.append((where, f"clause id {clause.id!r} is used twice; ids must be unique"))
        seen.add(clause.id)
        if clause.is_enforced and not clause.categories:
            problems.append(
                (
                    where,
                    f"clause {clause.id} is enforced but lists no categories; "
                    "add categories or set enforced: false",
                )
            )
        if not clause.is_enforced and not clause.not_enforced_reason:
            problems.append((where, f"clause {clause.id} is not enforced: say why in not_enforced_reason"))
        if clause.is_enforced and not clause.reminder:
            problems.append(
                (where, f"clause {clause.id} is enforced but has no reminder text for the learner")
            )

    categories: dict[Category, CategoryRule] = {}
    for category, rule in document.categories.items():
        categories[category] = CategoryRule(
            category=category,
            threshold=rule.threshold,
            ladder=tuple(tuple(ActionKind(action) for action in step) for step in rule.ladder),
            route=rule.route,
            head_precision=rule.head_precision,
            head_false_positive_rate=rule.head_false_positive_rate,
        )
    for category in Category:
        if category not in categories:
            problems.append(
                (
                    _line_of(("categories",), lines),
                    f"categories: {category.value} is missing; every category needs a threshold and a ladder",
                )
            )
        if not any(category in clause.categories and clause.is_enforced for clause in clauses):
            problems.append(
                (
                    _line_of(("clauses",), lines),
                    f"no enforced clause covers the category {category.value}; "
                    "add it to a clause's categories",
                )
            )

    detector_ids: set[str] = set()
    detectors: list[DetectorRule] = []
    for index, detector in enumerate(document.detectors):
        if detector.id in detector_ids:
            problems.append(
                (
                    _line_of(("detectors", index, "id"), lines),
                    f"detector id {detector.id!r} is used twice; ids must be unique",
                )
            )
        detector_ids.add(detector.id)
        if detector.clause is not None and detector.clause not in seen:
            problems.append(
                (
                    _line_of(("detectors", index, "clause"), lines),
                    f"detector {detector.id} names clause {detector.clause!r}, which is not in clauses",
                )
            )
        pattern = _compile_patterns(detector.patterns, lines, ("detectors", index, "patterns"), problems)
        unless = _compile_patterns(detector.unless, lines, ("detectors", index, "unless"), problems)
        if pattern is not None:
            detectors.append(
                DetectorRule(
                    id=detector.id,
                    category=detector.category,
                    score=detector.score,
                    applies_to=detector.applies_to,
                    pattern=pattern,
                    unless=unless,
                    clause_id=detector.clause,
                    unless_in_message=detector.unless_scope == "message",
                )
            )
    idioms = _compile_patterns(document.idioms, lines, ("idioms",), problems)
    public_contacts = _public_contacts(document.public_contacts, lines, problems)
    if problems:
        raise _policy_error(problems, name)
    return Policy(
        id=document.id,
        name=document.name,
        version=document.version,
        source=document.source,
        clauses=clauses,
        categories=categories,
        model_labels=dict(document.model_labels),
        detectors=tuple(detectors),
        idioms=idioms,
        strike_lifetime_days=document.strike_lifetime_days,
        support_message=" ".join(document.support_message.split()),
        scorer_failure_reminder=document.scorer_failure_reminder,
        public_contacts=public_contacts,
    )


def _public_contacts(
    entries: list[str], lines: dict[tuple[Any, ...], int], problems: list[_Problem]
) -> frozenset[str]:
    """Each entry must be one whole phone number or email address that the detector finds."""
    keys: set[str] = set()
    for index, entry in enumerate(entries):
        stripped = entry.strip()
        hits = find_personal_data(stripped)
        whole = len(hits) == 1 and (hits[0].start, hits[0].end) == (0, len(stripped))
        key = contact_key(hits[0].kind, stripped) if whole else None
        if key is None or (hits[0].kind == "phone" and not is_valid_phone(stripped)):
            found = ", ".join(f"{hit.kind} {stripped[hit.start : hit.end]!r}" for hit in hits) or "nothing"
            problems.append(
                (
                    _line_of(("public_contacts", index), lines),
                    f"public_contacts: {entry!r} must be one valid phone number (no extension) or one "
                    f"email address, as published, and nothing else (the detector finds {found} in it)",
                )
            )
            continue
        keys.add(key)
    return frozenset(keys)


def _compile_patterns(
    patterns: list[str], lines: dict[tuple[Any, ...], int], path: tuple[Any, ...], problems: list[_Problem]
) -> Pattern | None:
    """Compile a list of patterns with RE2 (:mod:`moderation.patterns`), each refusal at its line."""
    if not patterns:
        return None
    is_valid = True
    for index, pattern in enumerate(patterns):
        try:
            compile_patterns([pattern])
        except PatternError as exc:
            is_valid = False
            problems.append((_line_of((*path, index), lines), str(exc)))
    if not is_valid:
        return None
    try:
        return compile_patterns(patterns)
    except PatternError as exc:
        problems.append((_line_of(path, lines), str(exc)))
        return None


def _schema_problem(error: Any, lines: dict[tuple[Any, ...], int]) -> _Problem:
    location = tuple(error["loc"])
    dotted = ".".join(str(part) for part in location) or "(top level)"
    if location and location[-1] == "[key]":
        parent = ".".join(str(part) for part in location[:-1])
        message = f"{parent}: {location[-2]!r} is not a name allowed here; {error['msg'].lower()}"
    elif error["type"] == "extra_forbidden":
        parent = ".".join(str(part) for part in location[:-1]) or "the top level"
        message = f"{dotted}: unknown key {location[-1]!r} in {parent}; check its spelling"
    elif error["type"] == "missing":
        message = f"{dotted}: this key is required but missing"
    elif error["type"] in ("model_type", "dict_type"):
        message = (
            f"{dotted}: expected keys with values here (key: value), not {type(error['input']).__name__}"
        )
    elif error["type"] == "value_error":
        message = f"{dotted}: {error.get('ctx', {}).get('error', error['msg'])}"
    else:
        message = f"{dotted}: {error['msg']}"
    return _line_of(location, lines), message


def _policy_error(problems: list[_Problem], name: str) -> PolicyError:
    # Earliest line first, like a compiler; `line` stays the first problem's.
    ordered = sorted(problems, key=lambda problem: (problem[0] is None, problem[0] or 0))
    shown = ordered[:_MAX_PROBLEMS]
    (first_line, first_message), rest = shown[0], shown[1:]
    message = first_message + "".join(
        f"\n{name}:{line}: {text}" if line is not None else f"\n{name}: {text}" for line, text in rest
    )
    if len(ordered) > _MAX_PROBLEMS:
        message += f"\n{name}: ... and {len(ordered) - _MAX_PROBLEMS} more problem(s)"
    return PolicyError(message, path=name, line=first_line)


class _TooManyValues(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def _check_depth(source: str, name: str) -> None:
    """Refuse nesting deeper than :data:`_MAX_DEPTH` before composing (which recurses per level)."""
    depth = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > _MAX_DEPTH:
                raise PolicyError(
                    f"lists and mappings are nested more than {_MAX_DEPTH} deep here; a policy needs few",
                    path=name,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _to_python(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    problems: list[_Problem],
    unreadable: set[tuple[Any, ...]],
    ancestors: frozenset[int],
) -> Any:
    line = node.start_mark.line + 1
    lines[path] = line
    if len(lines) > _MAX_VALUES:  # aliases of aliases multiply: nine levels of nine are 387 million
        raise _TooManyValues(line)
    if id(node) in ancestors:
        problems.append((line, "an alias here refers to itself; write the value out instead"))
        unreadable.add(path)
        return None
    inner = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append((key_line, "a key must be a plain word, not a list or a mapping"))
                continue
            key = key_node.value
            if key in result:
                # YAML would quietly keep only the last one: a typo could silently drop a rule.
                first = lines.get((*path, key))
                problems.append(
                    (key_line, f"key {key!r} appears twice here (first on line {first}); keep one")
                )
                continue
            result[key] = _to_python(value_node, (*path, key), lines, problems, unreadable, inner)
            lines[(*path, key)] = key_line  # errors point at the key, not at a block below it
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), lines, problems, unreadable, inner)
            for index, item in enumerate(node.value)
        ]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append((line, f"cannot read this value ({problem}); write it as plain text or a number"))
        unreadable.add(path)
        return None
    finally:
        loader.dispose()


def _line_of(location: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(location), -1, -1):
        line = lines.get(tuple(location[:end]))
        if line is not None:
            return line
    return None
