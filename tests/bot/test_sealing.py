"""Sealing values with the operator's keys: round trips, plain values, wrong keys, rotation, settings."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings
from bot.errors import StorageError
from bot.redaction import Redaction
from bot.sealing import MARKER, Sealer, new_key

OLD, NEW = new_key(), new_key()
TEXT = "my stepdad hits me, ring me on 07700 900123 or write to sam.learner@example.org"


def test_a_sealed_value_is_marked_holds_none_of_the_text_and_opens_again() -> None:
    sealer = Sealer([NEW])

    sealed = sealer.seal(TEXT)

    assert sealed.startswith(MARKER) and sealer.is_sealed(sealed)
    assert "07700" not in sealed and "example.org" not in sealed and "stepdad" not in sealed
    assert sealer.open(sealed) == TEXT
    assert sealer.seal(TEXT) != sealed, "each seal has its own IV"


def test_plain_values_from_before_sealing_are_read_as_they_are() -> None:
    assert Sealer([NEW]).open("written before the keys were set") == "written before the keys were set"
    assert Sealer().seal("no keys: stored in clear") == "no keys: stored in clear"
    assert Sealer([NEW]).open(None) is None and Sealer([NEW]).seal(None) is None


@pytest.mark.parametrize("text", ["sealed:v1:not a token", "plain:sealed:x", "plain:plain:hello", "plain:x"])
def test_a_learner_typing_the_marker_is_never_taken_for_a_sealed_value(text: str) -> None:
    for sealer in (Sealer(), Sealer([NEW])):
        assert sealer.open(sealer.seal(text)) == text
    assert not Sealer.is_sealed(Sealer().seal(text))


def test_a_sealed_value_without_keys_is_refused_naming_the_setting() -> None:
    with pytest.raises(StorageError, match="set CLASSMOD_DATA_KEYS to the key"):
        Sealer().open(Sealer([NEW]).seal(TEXT))


def test_a_wrong_key_or_an_altered_value_is_refused_without_naming_a_key() -> None:
    sealed = Sealer([OLD]).seal(TEXT)
    altered = sealed[:-8] + ("A" if sealed[-8] != "A" else "B") + sealed[-7:]

    for sealer, value in ((Sealer([NEW]), sealed), (Sealer([OLD]), altered)):
        with pytest.raises(
            StorageError, match="cannot decrypt case texts with the keys in CLASSMOD_DATA_KEYS"
        ) as caught:
            sealer.open(value)
        assert OLD not in str(caught.value) and NEW not in str(caught.value)


def test_rotation_seals_with_the_newest_key_so_the_old_one_can_go() -> None:
    both = Sealer([NEW, OLD])
    sealed_with_old = Sealer([OLD]).seal(TEXT)

    assert both.open(sealed_with_old) == TEXT and not both.is_current(sealed_with_old)
    rotated = both.rotate(sealed_with_old)
    assert both.is_current(rotated) and Sealer([NEW]).open(rotated) == TEXT
    assert both.is_current(both.rotate("plain before the keys"))


def test_a_new_key_is_a_valid_fernet_key() -> None:
    key = new_key()
    Fernet(key)
    assert key != new_key()


def test_data_keys_are_validated_and_the_error_names_the_variable_never_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = "not-a-key-but-a-secret-all-the-same"
    monkeypatch.setenv("CLASSMOD_DATA_KEYS", f"{NEW},{bad}")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "CLASSMOD_DATA_KEYS (environment)" in message and "key 2 of 2 is not a valid key" in message
    assert bad not in message and NEW not in message


def test_data_keys_are_a_secret_masked_whole_and_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_DATA_KEYS", f"{NEW},{OLD}")

    settings = load_settings()
    redact = Redaction.of(settings)

    assert NEW not in repr(settings) and NEW not in str(settings.model_dump())
    assert redact(f"keys {NEW},{OLD}; first {NEW}; second {OLD}") == "keys ***; first ***; second ***"
