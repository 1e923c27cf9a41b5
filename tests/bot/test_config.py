"""Settings: defaults, environment variables, the TOML file, their precedence, and readable errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No CLASSMOD_* from the machine running the tests, and a scratch working directory."""
    for name in list(os.environ):
        if name.startswith("CLASSMOD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    settings = load_settings()

    assert settings.database_url == "sqlite:///classmod.db"
    assert settings.retention_days == 90
    assert settings.model_variant == "unbiased-small"
    assert settings.model_dir == Path("models")
    assert settings.model_device == "auto"  # cuda when torch sees a GPU, else cpu
    assert settings.model_threads is None
    assert settings.require_detoxify is False
    assert settings.policy_file is None
    assert settings.telegram_token is None
    assert settings.discord_token is None
    assert settings.log_level == "INFO"


def test_environment_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", "postgresql+psycopg://classmod@db.internal/classmod")
    monkeypatch.setenv("CLASSMOD_RETENTION_DAYS", "30")
    monkeypatch.setenv("CLASSMOD_MODEL_VARIANT", "original")
    monkeypatch.setenv("CLASSMOD_MODEL_DIR", "/srv/models")
    monkeypatch.setenv("CLASSMOD_REQUIRE_DETOXIFY", "true")
    monkeypatch.setenv("CLASSMOD_POLICY_FILE", "policies/other.yaml")

    settings = load_settings()

    assert settings.database_url == "postgresql+psycopg://classmod@db.internal/classmod"
    assert settings.retention_days == 30
    assert settings.model_variant == "original"
    assert settings.model_dir == Path("/srv/models")
    assert settings.require_detoxify is True
    assert settings.policy_file == Path("policies/other.yaml")


def test_a_classmod_toml_in_the_working_directory_is_read(clean_environment: Path) -> None:
    _write(clean_environment / "classmod.toml", 'retention_days = 45\nmodel_variant = "multilingual"\n')

    settings = load_settings()

    assert settings.retention_days == 45
    assert settings.model_variant == "multilingual"


def test_classmod_config_file_points_elsewhere(
    clean_environment: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(clean_environment / "classmod.toml", "retention_days = 45\n")
    elsewhere = _write(
        tmp_path_factory.mktemp("etc") / "site.toml", 'retention_days = 60\nlog_level = "DEBUG"\n'
    )
    monkeypatch.setenv("CLASSMOD_CONFIG_FILE", str(elsewhere))

    settings = load_settings()

    assert settings.retention_days == 60  # not the working directory's file
    assert settings.log_level == "DEBUG"
    assert settings.config_file == elsewhere


def test_a_named_config_file_that_does_not_exist_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_CONFIG_FILE", "/nowhere/classmod.toml")

    with pytest.raises(ConfigError, match=r"CLASSMOD_CONFIG_FILE.*/nowhere/classmod.toml"):
        load_settings()


def test_the_environment_beats_the_toml_file(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        clean_environment / "classmod.toml", 'retention_days = 45\ndatabase_url = "sqlite:///from-toml.db"\n'
    )
    monkeypatch.setenv("CLASSMOD_RETENTION_DAYS", "7")

    settings = load_settings()

    assert settings.retention_days == 7
    assert settings.database_url == "sqlite:///from-toml.db"


def test_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", "sqlite:///from-env.db")

    settings = load_settings(database_url="sqlite:///from-argument.db", retention_days=None)

    assert settings.database_url == "sqlite:///from-argument.db"
    assert settings.retention_days == 90  # None means "not given"


def test_tokens_are_secret_and_never_shown(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(clean_environment / "classmod.toml", 'discord_token = "discord-s3cret-from-toml"\n')
    monkeypatch.setenv("CLASSMOD_TELEGRAM_TOKEN", "123456:telegram-s3cret")

    settings = load_settings()

    assert isinstance(settings.telegram_token, SecretStr)
    assert isinstance(settings.discord_token, SecretStr)
    assert settings.telegram_token.get_secret_value() == "123456:telegram-s3cret"
    assert settings.discord_token.get_secret_value() == "discord-s3cret-from-toml"
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert "s3cret" not in shown


def test_variables_the_test_suite_uses_do_not_break_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("CLASSMOD_REQUIRE_POSTGRES", "1")
    monkeypatch.setenv("CLASSMOD_SOMETHING_ELSE", "x")

    settings = load_settings()

    assert settings.database_url == "sqlite:///classmod.db"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLASSMOD_RETENTION_DAYS", "0"),
        ("CLASSMOD_RETENTION_DAYS", "ninety"),
        ("CLASSMOD_MODEL_VARIANT", "huge"),
        ("CLASSMOD_MODEL_DEVICE", "tpu"),
        ("CLASSMOD_MODEL_THREADS", "0"),
        ("CLASSMOD_DATABASE_URL", "http://example.org/db"),
        ("CLASSMOD_LOG_LEVEL", "chatty"),
        ("CLASSMOD_REQUIRE_DETOXIFY", "perhaps"),
    ],
)
def test_an_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=variable) as raised:
        load_settings()

    assert "invalid configuration" in str(raised.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:pw1234@localhost/db", "classmod supports only SQLite and PostgreSQL, not 'mysql'"),
        ("mariadb://u:pw1234@localhost/db", "classmod supports only SQLite and PostgreSQL, not 'mariadb'"),
        ("sqlite:///", "names an in-memory SQLite database"),
        ("sqlite://", "names an in-memory SQLite database"),
        ("sqlite:///:memory:", "names an in-memory SQLite database"),
        ("sqlite:///file:cases?mode=memory&uri=true", "names an in-memory SQLite database"),
        ("sqlite:nowhere", "is not a database URL"),
    ],
)
def test_only_a_sqlite_file_or_postgresql_can_hold_the_cases(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", url)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert f"CLASSMOD_DATABASE_URL (environment): {expected}" in str(raised.value)
    assert "sqlite:///classmod.db" in str(raised.value)  # the fix
    assert "pw1234" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///classmod.db",
        "sqlite:////var/lib/classmod/cases.db",
        "postgresql://classmod@db.internal/classmod",
        "postgresql+psycopg://classmod:pw@db.internal:5432/classmod",
    ],
)
def test_sqlite_files_and_postgresql_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", url)

    assert load_settings().database_url == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.telegram.org/bot", "https://api.telegram.org/bot"),
        ("https://api.telegram.org/bot/", "https://api.telegram.org/bot"),
        ("http://127.0.0.1:18081", "http://127.0.0.1:18081/bot"),
        ("http://127.0.0.1:18081/", "http://127.0.0.1:18081/bot"),
        ("https://proxy.example.org/telegram", "https://proxy.example.org/telegram/bot"),
        (" http://bot-api:8081/bot ", "http://bot-api:8081/bot"),
    ],
)
def test_a_bot_api_url_with_or_without_bot_is_kept_ending_in_bot(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    # python-telegram-bot appends the token to this URL: without /bot the token became the port.
    monkeypatch.setenv("CLASSMOD_TELEGRAM_API_URL", url)

    assert load_settings().telegram_api_url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("api.telegram.org/bot", "is not the http:// or https:// address of a Bot API server"),
        ("ftp://127.0.0.1:18081/bot", "is not the http:// or https:// address of a Bot API server"),
        ("http:///bot", "is not the http:// or https:// address of a Bot API server"),
        ("http://127.0.0.1:99999/bot", "is not the http:// or https:// address of a Bot API server"),
        ("http://127.0.0.1:port/bot", "is not the http:// or https:// address of a Bot API server"),
        ("http://127.0.0.1:8081/bot?x=1", "is not the http:// or https:// address of a Bot API server"),
        ("https://api.telegram.org/bot123456:AAE-token-in-url", "holds the bot token"),
    ],
)
def test_a_bot_api_url_that_cannot_work_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("CLASSMOD_TELEGRAM_API_URL", url)
    monkeypatch.setenv("CLASSMOD_TELEGRAM_TOKEN", "123456:AAE-token-in-url")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    message = str(raised.value)
    assert f"CLASSMOD_TELEGRAM_API_URL (environment): {expected}" in message
    assert "https://api.telegram.org/bot" in message  # the fix
    assert "\n" not in message
    assert "AAE-token-in-url" not in message


def test_discord_is_reached_at_discord_s_own_urls_by_default() -> None:
    settings = load_settings()

    assert settings.discord_api_url == "https://discord.com/api/v10"
    assert settings.discord_gateway_url == "wss://gateway.discord.gg/"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v10"),
        ("http://nirn-proxy:8080/", "http://nirn-proxy:8080/api/v10"),
        ("https://proxy.example.org/discord/api", "https://proxy.example.org/discord/api/v10"),
        ("https://proxy.example.org/api/v10/", "https://proxy.example.org/api/v10"),
    ],
)
def test_a_discord_rest_proxy_is_accepted_with_or_without_the_api_path(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("CLASSMOD_DISCORD_API_URL", given)

    assert load_settings().discord_api_url == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ws://127.0.0.1:7878", "ws://127.0.0.1:7878/"),
        ("wss://gateway-proxy.internal/", "wss://gateway-proxy.internal/"),
        ("ws://gateway-proxy:7878/shards", "ws://gateway-proxy:7878/shards"),
    ],
)
def test_a_self_hosted_discord_gateway_is_accepted(
    monkeypatch: pytest.MonkeyPatch, given: str, expected: str
) -> None:
    monkeypatch.setenv("CLASSMOD_DISCORD_GATEWAY_URL", given)

    assert load_settings().discord_gateway_url == expected


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CLASSMOD_DISCORD_API_URL", "ftp://proxy.internal/api", "use http:// or https://"),
        ("CLASSMOD_DISCORD_API_URL", "proxy.internal:8080", "use http:// or https://"),
        ("CLASSMOD_DISCORD_API_URL", "https://proxy.internal/api/v9", "classmod speaks v10"),
        ("CLASSMOD_DISCORD_API_URL", "https://bot:pw1234@proxy.internal/", "no user name or password"),
        ("CLASSMOD_DISCORD_API_URL", "https://proxy.internal/?key=pw1234", "no query"),
        ("CLASSMOD_DISCORD_API_URL", "http://proxy.internal:99999/", "invalid host or port"),
        ("CLASSMOD_DISCORD_API_URL", "http://[::1/", "invalid host or port"),
        ("CLASSMOD_DISCORD_GATEWAY_URL", "https://gateway.discord.gg/", "use ws:// or wss://"),
        ("CLASSMOD_DISCORD_GATEWAY_URL", "wss://gateway.internal/?v=10&encoding=json", "no query"),
        ("CLASSMOD_DISCORD_GATEWAY_URL", "wss://bot:pw1234@gateway.internal/", "no user name or password"),
        ("CLASSMOD_DISCORD_GATEWAY_URL", "wss:///", "no host"),
    ],
)
def test_a_discord_url_classmod_cannot_use_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert f"{variable} (environment): " in str(raised.value) and expected in str(raised.value)
    assert "pw1234" not in str(raised.value)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_RETENTION_DAYS", "0")
    monkeypatch.setenv("CLASSMOD_MODEL_VARIANT", "huge")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert "CLASSMOD_RETENTION_DAYS" in str(raised.value)
    assert "CLASSMOD_MODEL_VARIANT" in str(raised.value)


def test_an_unknown_key_in_the_toml_file_is_named(clean_environment: Path) -> None:
    _write(clean_environment / "classmod.toml", "retention_dayz = 30\n")

    with pytest.raises(ConfigError, match="'retention_dayz' in the configuration file"):
        load_settings()


def test_a_toml_file_that_does_not_parse_is_reported(clean_environment: Path) -> None:
    _write(clean_environment / "classmod.toml", "retention_days = [\n")

    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()

    with pytest.raises(ValidationError):
        settings.retention_days = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ftp://hub.internal/", "use http:// or https://"),
        ("https://user:pw1234@hub.internal/", "no user name or password"),
        ("https://hub.internal/?token=pw1234", "no query"),
    ],
)
def test_a_hub_url_classmod_cannot_use_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("CLASSMOD_MODEL_HUB_URL", value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert "CLASSMOD_MODEL_HUB_URL (environment): " in str(raised.value) and expected in str(raised.value)
    assert "pw1234" not in str(raised.value)


def test_a_hub_mirror_is_accepted_without_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_MODEL_HUB_URL", "http://127.0.0.1:8080/hf-mirror/")

    assert load_settings().model_hub_url == "http://127.0.0.1:8080/hf-mirror"
    monkeypatch.delenv("CLASSMOD_MODEL_HUB_URL")
    assert load_settings().model_hub_url == "https://huggingface.co"


@pytest.mark.parametrize("value", ["inf", "1e309", "nan", "-inf", "1e12"])
def test_a_duration_must_be_a_bounded_number(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CLASSMOD_NOTICE_LIFETIME_SECONDS", value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert str(raised.value).startswith("invalid configuration: CLASSMOD_NOTICE_LIFETIME_SECONDS")
    assert "(environment)" in str(raised.value)


def test_a_malformed_list_in_the_environment_is_blamed_on_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLASSMOD_TELEGRAM_MODERATORS", "[1,2")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    message = str(raised.value)
    assert "CLASSMOD_TELEGRAM_MODERATORS (environment)" in message
    assert "JSON list" in message
    assert "configuration file" not in message


def test_an_invalid_value_in_the_toml_file_names_the_file_and_key(clean_environment: Path) -> None:
    _write(clean_environment / "classmod.toml", "retention_days = 0\n")

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert "retention_days in classmod.toml" in str(raised.value)


@pytest.mark.parametrize("url", ["postgresql://", "postgresql+psycopg://classmod:pw1234@db.internal:5432"])
def test_a_postgresql_url_must_name_its_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", url)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert "names no database" in str(raised.value)
    assert "pw1234" not in str(raised.value)
