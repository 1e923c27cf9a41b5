"""The languages the bot writes to learners in: the fixed wording, which language, and the ESOL form.

The ESOL form is the learner's language first and the same in simple English underneath.

The fixed wording lives in ``bot/locales/<code>.yaml`` (one file per language, the same keys as
``en.yaml``); clause reminders and the support message are translated in the policy file. A text missing
in a language falls back to English. Which language: the learner's own choice (``/language``), then the
platform's locale (Telegram's ``language_code``, Discord's interaction locale), then the group's default,
then English.

Values put into a translated text (names, numbers, commands) are wrapped in Unicode isolates
(FSI … PDI), and each right-to-left paragraph in RLI … PDI, so a Latin name inside Arabic, or an
Arabic paragraph above English, is shown in the right order on every client.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moderation.policy import Audience, Policy

__all__ = [
    "ENGLISH",
    "Catalogue",
    "Language",
    "catalogue",
    "choose_language",
    "esol_form",
    "language_of",
    "normalise_code",
    "placeholders",
    "translation_gaps",
]

ENGLISH = "en"
LOCALES = Path(__file__).with_name("locales")

# Unicode directional isolates (Unicode Bidirectional Algorithm, UAX #9): first-strong, right-to-left,
# left-to-right, and their end.
FSI, RLI, LRI, PDI = "\u2068", "\u2067", "\u2066", "\u2069"

# Platform locales that name a shipped language another way (Telegram's IETF tags, Discord's locales).
_ALIASES = {
    "zh-hans": "zh",
    "zh-cn": "zh",
    "zh-sg": "zh",
    "zh-hans-cn": "zh",
    "es-es": "es",
    "es-419": "es",
    "ku-arab": "ckb",
    "ckb-iq": "ckb",
    "ckb-ir": "ckb",
    "fa-ir": "fa",
    "pes": "fa",
    "prs": "fa",
    "uk-ua": "uk",
    "ua": "uk",
    "ti-er": "ti",
    "ti-et": "ti",
    "en-gb": "en",
    "en-us": "en",
}
# Traditional Chinese is not the Simplified the bot writes: a learner reading it gets the next choice.
_NOT_SHIPPED = frozenset({"zh-hant", "zh-tw", "zh-hk", "zh-mo", "zh-hant-tw", "zh-hant-hk"})
_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8}){0,2}")


class _LocaleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z]{2,3}$")
    name: str = Field(min_length=1, max_length=60)
    native_name: str = Field(min_length=1, max_length=60)
    direction: Literal["ltr", "rtl"] = "ltr"
    reviewed: bool = False
    texts: dict[str, str]


@dataclass(frozen=True, slots=True)
class Language:
    """A language the bot can write in, and whether a speaker has checked its texts."""

    code: str
    name: str
    native_name: str
    is_rtl: bool
    reviewed: bool

    @property
    def label(self) -> str:
        """How a learner sees it named: ``Polski (Polish)``."""
        return self.name if self.native_name == self.name else f"{self.native_name} ({self.name})"


class Catalogue:
    """The fixed wording in every shipped language, English the fallback."""

    def __init__(self, files: Mapping[str, _LocaleFile]) -> None:
        if ENGLISH not in files:
            raise ValueError("the catalogue has no English texts (bot/locales/en.yaml)")
        english = files[ENGLISH].texts
        # A text whose placeholders differ from English's would lose a name or a number, or fail to
        # fill in: it is not used (English is said instead), and `policy validate` lists it.
        self._texts = {
            code: {
                key: text
                for key, text in file.texts.items()
                if code == ENGLISH or (key in english and placeholders(text) == placeholders(english[key]))
            }
            for code, file in files.items()
        }
        self._refused = {
            code: sorted(set(file.texts) - set(self._texts[code])) for code, file in files.items()
        }
        self.languages = {
            code: Language(
                code=code,
                name=file.name,
                native_name=file.native_name,
                is_rtl=file.direction == "rtl",
                reviewed=file.reviewed,
            )
            for code, file in sorted(files.items(), key=lambda item: (item[0] != ENGLISH, item[0]))
        }

    @classmethod
    def load(cls, directory: Path = LOCALES) -> Catalogue:
        """Read every ``<code>.yaml`` in ``directory``; a malformed file is refused with its name."""
        files: dict[str, _LocaleFile] = {}
        for path in sorted(directory.glob("*.yaml")):
            try:
                file = _LocaleFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
            except (OSError, yaml.YAMLError, ValidationError) as exc:
                raise ValueError(f"{path.name}: not a valid texts file: {exc}") from exc
            if file.code != path.stem:
                raise ValueError(f"{path.name}: says it is {file.code!r}; name the file {file.code}.yaml")
            files[file.code] = file
        return cls(files)

    @property
    def keys(self) -> frozenset[str]:
        """Every text the bot may say (English's keys)."""
        return frozenset(self._texts[ENGLISH])

    def text(self, key: str, language: str = ENGLISH, /, **values: object) -> str:
        """One text in ``language`` (English where it has none), its placeholders filled in.

        Values are isolated (FSI … PDI) in any language but English, so their direction cannot
        disturb the sentence around them.
        """
        if language == ENGLISH or not self.has(key, language):
            return self._texts[ENGLISH][key].format(**values)
        return self._texts[language][key].format(
            **{name: f"{FSI}{value}{PDI}" for name, value in values.items()}
        )

    def template(self, key: str, language: str = ENGLISH) -> str:
        """One text as written, its placeholders unfilled (English where ``language`` has none)."""
        return self._texts.get(language, {}).get(key) or self._texts[ENGLISH][key]

    def has(self, key: str, language: str) -> bool:
        """Whether ``language`` has its own text for ``key`` (not the English fallback)."""
        return bool(self._texts.get(language, {}).get(key))

    def missing(self, language: str) -> list[str]:
        """The keys ``language`` lacks (they fall back to English)."""
        return sorted(key for key in self.keys if not self.has(key, language))

    def mismatched(self, language: str) -> list[str]:
        """The keys ``language`` has but does not use: unknown keys, or placeholders unlike English's."""
        return list(self._refused.get(language, ()))

    def resolve(self, code: str | None) -> str | None:
        """A shipped language for what a learner typed or a platform reported, or ``None``."""
        normalised = normalise_code(code)
        if normalised is None:
            return None
        if normalised in self.languages:
            return normalised
        base = normalised.split("-")[0]
        return base if base in self.languages else None

    def listing(self) -> str:
        """The shipped languages as a learner reads them: ``en English, pl Polski (Polish), …``."""
        return ", ".join(f"{code} {language.label}" for code, language in self.languages.items())


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue (read once)."""
    return Catalogue.load()


def normalise_code(code: str | None) -> str | None:
    """``zh-Hans`` → ``zh``, ``pt_BR`` → ``pt-br``; anything that is not a language tag → ``None``."""
    if not code:
        return None
    tag = code.strip().lower().replace("_", "-")
    if not _CODE.fullmatch(tag) or tag in _NOT_SHIPPED:
        return None
    return _ALIASES.get(tag, tag)


def choose_language(
    available: Iterable[str],
    *,
    chosen: str | None = None,
    platform_locale: str | None = None,
    group_default: str | None = None,
) -> str:
    """The learner's own choice, then the platform's locale, then the group's default, then English.

    Each candidate is normalised (``zh-Hans`` is ``zh``, ``pl-PL`` is ``pl``); one the bot does not
    ship is skipped.
    """
    shipped = set(available)
    for candidate in (chosen, platform_locale, group_default):
        code = normalise_code(candidate)
        if code is None:
            continue
        for option in (code, code.split("-")[0]):
            if option in shipped:
                return option
    return ENGLISH


class _Choices(Protocol):
    def language_choice(self, platform: str, user_id: str, chat_id: str | None = None) -> _Choice: ...


class _Choice(Protocol):
    @property
    def chosen(self) -> str | None: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def group_default(self) -> str | None: ...


def language_of(
    store: _Choices, platform: str, user_id: str, chat_id: str | None = None, *, locale: str | None = None
) -> str:
    """The language to write to someone in, from what the store keeps (the store's ``language_choice``).

    ``locale`` is what their app reported with the message at hand, newer than the one kept.
    """
    choice = store.language_choice(platform, user_id, chat_id)
    return choose_language(
        catalogue().languages,
        chosen=choice.chosen,
        platform_locale=locale or choice.locale,
        group_default=choice.group_default,
    )


def esol_form(translated: str, english: str, language: Language) -> str:
    """The learner's language first, then the same in English underneath.

    Beside a right-to-left language each paragraph is isolated, the translation's in RLI … PDI and
    English's in LRI … PDI, so a client lays out each in its own direction whatever the other is.
    """
    if not language.is_rtl:
        return f"{translated}\n\n{english}"
    return f"{_isolated(translated, RLI)}\n\n{_isolated(english, LRI)}"


def _isolated(text: str, start: str) -> str:
    return "\n".join(f"{start}{line}{PDI}" if line.strip() else line for line in text.split("\n"))


def placeholders(text: str) -> list[str]:
    """The ``{placeholders}`` in a text as written (with any conversion or format), sorted, with repeats.

    A text whose braces do not parse gives ``["<malformed>"]``, so it never matches English's.
    """
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return ["<malformed>"]
    return sorted(
        f"{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}"
        for _, name, spec, conversion in fields
        if name is not None
    )


def translation_gaps(policy: Policy, texts: Catalogue | None = None) -> list[str]:
    """What each language lacks (it falls back to English), for ``classmod policy validate``.

    Warnings, not errors: a learner still gets every text, in English where it is missing.
    """
    texts = texts or catalogue()
    learner_clauses = [
        clause.id
        for clause in policy.clauses
        if clause.is_enforced and clause.reminder and clause.applies_to is not Audience.STAFF
    ]
    gaps: list[str] = []
    for code in sorted({*texts.languages, *policy.translations} - {ENGLISH}):
        if code not in texts.languages:
            gaps.append(
                f"{code}: the policy file translates it, but the bot has no texts in it (bot/locales/)"
            )
            continue
        if missing := texts.missing(code):
            gaps.append(f"{code}: {len(missing)} bot text(s) missing: {', '.join(missing)}")
        if unused := texts.mismatched(code):
            gaps.append(f"{code}: not used (unknown, or placeholders unlike English's): {', '.join(unused)}")
        translation = policy.translations.get(code)
        lacking = [
            key
            for key in (
                "support",
                *(f"support:{key}" for key in sorted(policy.support)),
                *(["scorer_failure"] if policy.scorer_failure_reminder else []),
                *(f"clause:{clause_id}" for clause_id in learner_clauses),
            )
            if translation is None or not policy.is_translated([key], code)
        ]
        if lacking:
            gaps.append(f"{code}: policy text(s) missing: {', '.join(lacking)}")
    return gaps
