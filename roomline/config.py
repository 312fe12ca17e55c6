"""All of roomline's configuration, in one pydantic-settings class.

Every field can come from the environment as ``ROOMLINE_<FIELD>`` (e.g.
``ROOMLINE_DATABASE_URL``); the command line passes its options as init arguments, which
win over the environment.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///roomline.db"

# The ApplicationElementId GUIDs Ultimo documents for each workflow. Real Ultimo
# environments can use others, so they are configurable.
DOCUMENTED_APPLICATION_ELEMENT_IDS: dict[str, str] = {
    "REST_CreateReservation": "0167a94a-5dae-4efe-bf13-029a47728b97",
    "REST_UpdateReservation": "3736d834-fa5e-4edc-9abd-f38962ff8afd",
    "REST_CancelReservation": "5d5a10ee-7b14-4dd4-8683-33822ea56f12",
    "REST_GetReservationsForSpace": "860ea091-4d76-47d9-a733-c3bb18440dde",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROOMLINE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    database_url: str = DEFAULT_DATABASE_URL

    default_time_zone: str = "UTC"
    start_grace_minutes: int = Field(default=5, ge=0)
    max_window_days: int = Field(default=366, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    strict: bool = False
    application_element_ids: dict[str, str] = Field(
        default_factory=lambda: dict(DOCUMENTED_APPLICATION_ELEMENT_IDS)
    )

    admin_token: SecretStr | None = None

    # Demo mode: the demo data set, and a clock that can be pinned or shifted. ``now``
    # pins the clock at start (ISO 8601), or follows the system clock when "system".
    demo: bool = False
    now: str | None = None

    log_level: str = "info"

    @field_validator("application_element_ids")
    @classmethod
    def _complete_application_element_ids(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DOCUMENTED_APPLICATION_ELEMENT_IDS)
        if unknown:
            raise ValueError(f"unknown workflows: {', '.join(sorted(unknown))}")
        return {**DOCUMENTED_APPLICATION_ELEMENT_IDS, **value}

    def to_environment(self) -> dict[str, str]:
        """Return these settings as ``ROOMLINE_*`` variables, for worker processes."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"ROOMLINE_{name.upper()}"] = _env_text(value)
        return env


def _env_text(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value)


def settings_from(**options: Any) -> Settings:
    """Build settings from command-line ``options`` (None means 'not given') over the env."""
    return Settings(**{key: value for key, value in options.items() if value is not None})


def export_to_environment(settings: Settings) -> None:
    """Put ``settings`` into this process's environment so worker processes see them."""
    os.environ.update(settings.to_environment())
