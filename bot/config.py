"""Configuration, in one place: environment variables ``CLASSMOD_*`` and an optional TOML file.

Precedence, highest first: arguments passed in code (the command line's options), environment
variables, the TOML file named by ``CLASSMOD_CONFIG_FILE`` (default ``classmod.toml`` in the working
directory, if it exists), then the defaults below. Nothing else in classmod reads the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.sealing import check_keys
from bot.urls import (
    DISCORD_API_URL,
    DISCORD_GATEWAY_URL,
    check_database_url,
    discord_api_url,
    discord_gateway_url,
    hub_url,
    normalise_bot_api_url,
)
from moderation.errors import ModerationError

__all__ = [
    "DISCORD_API_URL",
    "DISCORD_GATEWAY_URL",
    "ConfigError",
    "RotaMemberSetting",
    "Settings",
    "check_database_url",
    "load_settings",
]

DetoxifyVariant = Literal["original", "unbiased", "multilingual", "original-small", "unbiased-small"]


class ConfigError(ModerationError):
    """A setting is missing or invalid; the message names the variable and the fix."""


class RotaMemberSetting(BaseModel):
    """One person on the safeguarding rota, as written in the settings (``safeguarding_rota``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    duty: str = Field(default="officer", min_length=1, max_length=60, description="officer, deputy, …")
    telegram: int | None = None
    discord: int | None = None
    hours: Literal["in_hours", "out_of_hours", "always"] = "always"


class Settings(BaseSettings):
    """Every setting classmod has. Environment variables are the field names, upper case, prefixed."""

    # No infinite or NaN number is a setting: "inf" seconds would never expire, NaN compares false.
    model_config = SettingsConfigDict(
        env_prefix="CLASSMOD_", extra="forbid", frozen=True, allow_inf_nan=False
    )

    config_file: Path = Field(default=Path("classmod.toml"), description="optional TOML file of settings")
    database_url: str = Field(
        default="sqlite:///classmod.db", description="SQLAlchemy URL: SQLite file or postgresql+psycopg://..."
    )
    policy_file: Path | None = Field(
        default=None, description="policy YAML; the bundled SCLS policy when unset"
    )
    retention_days: int = Field(
        default=90, ge=1, le=3650, description="days a flagged message's text is kept"
    )
    data_keys: SecretStr | None = Field(
        default=None,
        description="keys that encrypt case texts and notes at rest, comma-separated, newest first "
        "(`classmod keys generate` makes one); unset: stored in clear",
    )

    model_variant: DetoxifyVariant = Field(default="unbiased-small", description="Detoxify variant")
    model_dir: Path = Field(
        default=Path("models"), description="where offline Detoxify bundles and the sentence encoder live"
    )
    model_hub_url: str = Field(
        default="https://huggingface.co",
        description="the Hugging Face Hub, or a mirror, that `model fetch` downloads the sentence encoder "
        "from when its package is not installed",
    )
    model_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: cuda when torch sees a GPU, else cpu"
    )
    model_threads: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="torch and ONNX Runtime threads; all cores when unset (the encoder: a pass on each core)",
    )
    model_engine: Literal["auto", "torch", "torch-int8", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="inference engine; auto takes the fastest that passes the equivalence check",
    )
    model_engine_cache: Path | None = Field(
        default=None, description="where exported ONNX files are cached; <bundle>/.engines when unset"
    )
    model_max_drift: float = Field(
        default=0.02, ge=0, le=1, description="largest score difference from fp32 an engine may show"
    )
    scoring_batch_size: int = Field(default=32, ge=1, le=512, description="most messages scored together")
    scoring_window_ms: float = Field(
        default=5.0, ge=0, le=1000, description="how long a message waits for others to batch with"
    )
    scoring_long_text_chars: int = Field(
        default=400,
        ge=0,
        le=100_000,
        description="longer messages are scored in a lane of their own, so short ones never wait behind "
        "them; 0: one lane",
    )
    scoring_cache_size: int = Field(
        default=2048,
        ge=0,
        le=100_000,
        description="how many recent distinct messages' scores are kept in memory (by digest, not text), "
        "so a repeated message is not scored again; 0: score every message; about 0.5 kB each",
    )
    assess_budget_seconds: float = Field(
        default=5.0,
        ge=0.1,
        le=300,
        description="how long judging one message may take; over it, the message is held for review",
    )
    require_detoxify: bool = Field(
        default=False, description="fail at start-up instead of using the fallback"
    )
    heads: bool = Field(
        default=True,
        description="score with the sentence encoder and the trained policy heads (beside Detoxify)",
    )
    heads_dir: Path | None = Field(
        default=None,
        description="the policy heads to use; <model_dir>/heads (written by `classmod learn`) when it "
        "exists, else the heads shipped with classmod",
    )
    encoder: str = Field(
        default="all-MiniLM-L6-v2",
        min_length=1,
        description="the sentence encoder: a folder name under <model_dir>/encoders, or a path to a "
        "sentence-transformers folder",
    )
    encoder_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="the languages the sentence encoder covers (ISO 639 codes), or * for a multilingual "
        "encoder; a message in another language is marked assessed in part",
    )
    encoder_engine: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        default="auto",
        description="the sentence encoder's engine; auto takes the fastest whose heads' probabilities stay "
        "within model_max_drift of fp32 torch",
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API server's http(s) address (a self-hosted one's), with or without /bot; "
        "kept ending in /bot",
    )
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = Field(default=None, description="public HTTPS URL Telegram posts to")
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(default=8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None
    telegram_moderators_chat: int | None = Field(default=None, description="the private moderators' group")
    telegram_safeguarding_chat: int | None = Field(
        default=None,
        description="the safeguarding officer's chat (safeguarding and staff-conduct cases only)",
    )
    telegram_moderators: list[int] = Field(default_factory=list, description="user ids who may act on cases")
    telegram_safeguarding_officers: list[int] = Field(default_factory=list)
    telegram_staff: list[int] = Field(
        default_factory=list,
        description="tutors and staff: judged by the staff rules, may /authorise and /consent",
    )
    authorise_timeout_minutes: float = Field(
        default=60.0,
        gt=0,
        le=10080,
        description="Discord: how long the bot waits in a server nobody authorised before it leaves",
    )
    lease_seconds: float = Field(
        default=15.0,
        ge=1,
        le=600,
        description="seconds a platform's lease lasts unrenewed (a standby takes over in about this)",
    )
    notice_lifetime_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="how long a public fallback reminder stays before it deletes itself",
    )
    discord_token: SecretStr | None = None
    discord_moderators_channel: int | None = Field(default=None, description="the moderators' channel id")
    discord_safeguarding_channel: int | None = Field(
        default=None,
        description="the safeguarding officer's channel (safeguarding and staff-conduct cases only)",
    )
    discord_moderator_role: str | None = Field(
        default=None, description="name or id of the role whose members may act on cases"
    )
    discord_staff_role: str | None = Field(
        default=None, description="name or id of the tutors' and staff's role (judged by the staff rules)"
    )
    discord_moderators: list[int] = Field(default_factory=list, description="user ids who may act on cases")
    discord_safeguarding_officers: list[int] = Field(default_factory=list)
    discord_api_url: str = Field(
        default=DISCORD_API_URL,
        description="Discord's REST API, or a REST proxy in front of it; /api/v10 is added when left out",
    )
    discord_gateway_url: str = Field(
        default=DISCORD_GATEWAY_URL,
        description="Discord's gateway, or a self-hosted gateway (ws:// or wss://)",
    )
    shutdown_grace_seconds: float = Field(
        default=8.0,
        ge=0,
        le=600,
        description="on SIGTERM or SIGINT, how long the bot waits for the messages in hand before it exits",
    )

    safeguarding_rota: list[RotaMemberSetting] = Field(
        default_factory=list,
        description="the safeguarding team in order (officer, deputies, out-of-hours contact); "
        "alerted in turn until one acknowledges a case",
    )
    ack_immediate_seconds: float = Field(
        default=900, gt=0, le=86_400, description="an immediate case waits this long for each acknowledgement"
    )
    ack_high_seconds: float = Field(
        default=3600, gt=0, le=604_800, description="a high case: seconds of the service's working time"
    )
    ack_concern_seconds: float = Field(
        default=3600, gt=0, le=604_800, description="a concern: seconds after the next working morning"
    )
    ack_clock: Literal["service", "wall"] = Field(
        default="service",
        description="service: high counts working time, concern waits for the next working morning; "
        "wall: every level counts plain seconds",
    )
    undecided_reminder_seconds: float = Field(
        default=14_400,
        ge=0,
        le=604_800,
        description="re-post a moderators' card undecided this long (0: never)",
    )
    digest_time: str | None = Field(
        default="09:00",
        pattern=r"^(off|([01][0-9]|2[0-3]):[0-5][0-9])$",
        description="when the daily digest of open cases is posted (HH:MM in the service's time zone; off)",
    )
    console_host: str = Field(default="127.0.0.1", description="the web console's address (classmod console)")
    console_port: int = Field(default=8080, ge=1, le=65535, description="the web console's port")
    console_url: str = Field(
        default="http://127.0.0.1:8080",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="the console's address as staff reach it (behind HTTPS: https://…); sign-in links use it",
    )
    pdf_font: Path | None = Field(
        default=None,
        description="a TrueType font for the chronology's PDF (default: DejaVu Sans where installed)",
    )
    schedule_tick_seconds: float = Field(
        default=10, gt=0, le=600, description="how often the rota, reminders and digest are checked"
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: one line per event; json: one JSON object per line"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("data_keys")
    @classmethod
    def _valid_data_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_keys(value.get_secret_value())
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _known_bot_api(cls, value: str) -> str:
        return normalise_bot_api_url(value)

    @field_validator("model_hub_url")
    @classmethod
    def _check_model_hub_url(cls, value: str) -> str:
        return hub_url(value)

    @field_validator("discord_api_url")
    @classmethod
    def _discord_api(cls, value: str) -> str:
        return discord_api_url(value)

    @field_validator("discord_gateway_url")
    @classmethod
    def _discord_gateway(cls, value: str) -> str:
        return discord_gateway_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the TOML file."""
        named = init_settings().get("config_file") or env_settings().get("config_file")
        toml_path = Path(named or "classmod.toml")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        elif named:
            # Only the default file is optional: one named on purpose must exist.
            raise FileNotFoundError(f"CLASSMOD_CONFIG_FILE names {toml_path}, which does not exist")
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once, turning validation errors into one readable ``ConfigError``.

    Each problem names the setting where it was given: ``CLASSMOD_X (environment)``, ``x in
    classmod.toml``, or the command line's option.

    Raises:
        ConfigError: a value is invalid; the message, one line, names each setting to fix.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            inside = [
                f"entry {part + 1}" if isinstance(part, int) else str(part) for part in error["loc"][1:]
            ]
            if error["type"] == "extra_forbidden":
                # Only the TOML file can carry unknown keys; unknown environment variables are ignored.
                problems.append(f"{field!r} in the configuration file is not a setting classmod knows")
                continue
            # Our validators' own words, without pydantic's "Value error, " prefix.
            words = error["msg"]
            if error["type"] == "value_error":
                words = error.get("ctx", {}).get("error", words)
            within = f" ({', '.join(inside)})" if inside else ""
            problems.append(f"{_where(field, given)}{within}: {words}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
    except SettingsError as exc:
        # pydantic-settings reads a list from the environment as JSON before validating it.
        found = re.search(r'field "(\w+)" from source "(\w+)"', str(exc))
        if found is None:
            raise ConfigError(f"cannot read the settings: {exc}") from exc
        field, source = found.groups()
        where = f"CLASSMOD_{field.upper()} (environment)" if source.startswith("Env") else field
        raise ConfigError(
            f"invalid configuration: {where}: not a JSON list; write e.g. [123456789, 987654321]"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the configuration file: {exc}") from exc


def _where(field: str, given: Mapping[str, Any]) -> str:
    """Where a setting's value came from, as the person who set it would look for it."""
    if field in given:
        return f"--{field.replace('_', '-')}"
    variable = f"CLASSMOD_{field.upper()}"
    if field in _values_of(lambda: EnvSettingsSource(Settings)()):
        return f"{variable} (environment)"
    named = given.get("config_file") or _values_of(lambda: EnvSettingsSource(Settings)()).get("config_file")
    toml_path = Path(named or "classmod.toml")
    if toml_path.is_file() and field in _values_of(lambda: TomlConfigSettingsSource(Settings, toml_path)()):
        return f"{field} in {toml_path}"
    return variable


def _values_of(read: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    """The values one settings source holds, or none if it cannot be read (already reported)."""
    try:
        return read()
    except (OSError, ValueError):
        return {}
