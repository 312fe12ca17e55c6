"""All of roomline's configuration, in one pydantic-settings class.

Every field can come from the environment as ``ROOMLINE_<FIELD>`` (e.g.
``ROOMLINE_DATABASE_URL``); the command line passes its options as init arguments, which
win over the environment.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
    # How long a server told to stop (SIGTERM) lets requests in flight finish, refusing new
    # connections meanwhile: longer than a request may wait for the database (below), so
    # none is cut off in a normal stop.
    shutdown_grace_seconds: int = Field(default=35, ge=0)
    # How long a client may take to send a request's headers (from connecting, or from
    # the first byte of a later request on the connection) before it is disconnected.
    header_timeout_seconds: float = Field(default=10, gt=0, le=3600)
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections each worker process may hold at most (requests beyond wait).
    database_pool_size: int = Field(default=10, ge=1, le=500)
    # The longest a request waits for the database in all: an SQLite write for the write
    # lock (queued behind this process's writers and another process's lock), any request
    # for a pooled connection. Then 503 ServiceUnavailable with Retry-After.
    database_wait_seconds: float = Field(default=30.0, gt=0, le=3600)

    default_time_zone: str = "UTC"
    # The zone of the web view's "today" and its clock; None: ``default_time_zone``.
    web_time_zone: str | None = None
    start_grace_minutes: int = Field(default=5, ge=0)
    max_window_days: int = Field(default=366, ge=1)
    # The most occurrences one recurring reservation (series) may have.
    max_series_occurrences: int = Field(default=500, ge=1, le=10_000)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    strict: bool = False
    application_element_ids: dict[str, str] = Field(
        default_factory=lambda: dict(DOCUMENTED_APPLICATION_ELEMENT_IDS)
    )

    # Opens the management and demo APIs and the web view; empty or blank: all disabled.
    admin_token: SecretStr | None = None
    # Opens /metrics only (for a Prometheus server); the admin token opens it too.
    metrics_token: SecretStr | None = None
    # Wrong admin tokens (API or web sign-in) each client address may send; past it, 429.
    failed_sign_in_limit: str = "10/minute"

    # Demo mode: the demo data set, and a clock that can be pinned or shifted. ``now``
    # pins the clock at start (ISO 8601), or follows the system clock when "system".
    demo: bool = False
    now: str | None = None
    # ``roomline demo --fixture``: the JSON or TOML file loaded instead of the playground.
    fixture: str | None = None

    log_level: str = "info"
    # "json": one JSON object per line, one line per request (request id, key name,
    # workflow, status, duration); "text" for people reading a terminal.
    # None: "text" when standard error is a terminal, else "json" (as under a service
    # manager); see ``api.observability.logging_config``.
    log_format: Literal["json", "text"] | None = None
    # The per-request line of ``roomline.access``. Off leaves warnings and errors only,
    # for a few percent more throughput where a proxy in front logs requests already.
    access_log: bool = True

    # Request limits (services/limits.py), counted in the database or, with a Redis URL,
    # in Redis, so they hold across workers and hosts. ``ultimo_quotas`` fills in Ultimo's
    # documented quotas wherever the matching option is not given.
    ultimo_quotas: bool = False
    rate_limit: str | None = None  # all keys combined, e.g. "100/10 seconds"
    daily_quota: int | None = Field(default=None, ge=0)  # all keys combined, per UTC day
    key_rate_limit: str | None = None  # each key on its own
    key_daily_quota: int | None = Field(default=None, ge=0)  # keys without their own quota
    redis_url: SecretStr | None = None
    redis_prefix: str = "roomline"
    # Peers whose X-Forwarded-For names the client (allow-list syntax: "10.0.0.1;::1").
    trusted_proxies: str | None = None

    # The log of changes (SPEC §8): how many days back the change feed reaches (older
    # cursors answer CursorExpired), and how long the audit trail, which is the same log,
    # keeps its entries (None: for ever). Entries are deleted once both have passed.
    event_retention_days: int = Field(default=30, ge=1, le=36_500)
    audit_retention_days: int | None = Field(default=None, ge=1, le=36_500)
    # Run background work (SPEC §9: webhook deliveries, pruning ...) in this process.
    # Several processes may all run it; false keeps a worker or host to requests only.
    background: bool = True
    # Where webhooks may be sent (docs/webhooks.md): CIDR networks joined by ";". Unset:
    # anywhere but loopback, link-local (cloud metadata) and unspecified addresses.
    webhook_allowed_networks: str | None = None
    # Where people reach this server (https://rooms.example.com), for absolute calendar
    # feed URLs the CLI prints; the API and web view fall back to the request's address.
    public_url: str | None = None
    # The working hours reports measure occupancy against, in each space's own zone
    # (docs/reports.md): days then wall-clock ranges, parts joined by ";".
    working_hours: str = "mon-fri 08:00-18:00"

    @field_validator("application_element_ids")
    @classmethod
    def _complete_application_element_ids(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DOCUMENTED_APPLICATION_ELEMENT_IDS)
        if unknown:
            raise ValueError(f"unknown workflows: {', '.join(sorted(unknown))}")
        return {**DOCUMENTED_APPLICATION_ELEMENT_IDS, **value}

    @field_validator("admin_token")
    @classmethod
    def _blank_admin_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        # The one place that decides: an empty or blank token is no token, so every
        # surface it would open stays closed (it would match an empty credential).
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip().rstrip("/")
        scheme, _, rest = text.partition("://")
        if scheme not in ("http", "https") or not rest:
            raise ValueError("give the server's address with http:// or https://")
        return text

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        from roomline.storage.diagnosis import DatabaseSetupError, check_url

        try:
            check_url(value)
        except DatabaseSetupError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("default_time_zone", "web_time_zone")
    @classmethod
    def _check_time_zone(cls, value: str | None) -> str | None:
        from roomline.domain.errors import InvalidParameter
        from roomline.domain.times import zone_named

        if value is not None:
            try:
                zone_named(value)
            except InvalidParameter as exc:
                raise ValueError(exc.message) from exc
        return value

    @field_validator("rate_limit", "key_rate_limit", "failed_sign_in_limit")
    @classmethod
    def _check_rate_limit(cls, value: str | None) -> str | None:
        from roomline.services.limits import parse_rate_limits

        if value is not None:
            parse_rate_limits(value)
        return value

    @field_validator("trusted_proxies", "webhook_allowed_networks")
    @classmethod
    def _check_trusted_proxies(cls, value: str | None) -> str | None:
        from roomline.domain.addresses import parse_ip_allow
        from roomline.domain.errors import InvalidParameter

        if value is None or not value.strip():
            return None
        try:
            parse_ip_allow(value)
        except InvalidParameter as exc:
            raise ValueError(exc.message) from exc
        return value

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: str) -> str:
        from roomline.domain.errors import InvalidParameter
        from roomline.domain.utilisation import parse_working_hours

        try:
            return parse_working_hours(value).text
        except InvalidParameter as exc:
            raise ValueError(exc.message) from exc

    @model_validator(mode="after")
    def _apply_ultimo_quotas(self) -> Settings:
        from roomline.services import limits

        if self.ultimo_quotas:
            given = self.model_fields_set
            if "rate_limit" not in given:
                self.rate_limit = limits.ULTIMO_RATE_LIMIT
            if "daily_quota" not in given:
                self.daily_quota = limits.ULTIMO_DAILY_QUOTA
            if "max_body_bytes" not in given:
                self.max_body_bytes = limits.ULTIMO_MAX_BODY_BYTES
        return self

    @property
    def web_view_zone(self) -> str:
        """The IANA zone the web view takes "today" and the clock in."""
        return self.web_time_zone or self.default_time_zone

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


class SettingsError(ValueError):
    """A setting has a value roomline cannot use; the message names the option or variable."""


def settings_from(**options: Any) -> Settings:
    """Build settings from command-line ``options`` (None means 'not given') over the env.

    A value that does not fit raises ``SettingsError``, naming where it came from: the
    option (``--port 80000``) or the variable (``ROOMLINE_PORT='80000'``).
    """
    given = {key: value for key, value in options.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError("; ".join(_problem(error, given) for error in exc.errors())) from None


def _problem(error: Any, given: dict[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.split(" ", 1)[0][1:].islower():  # "Input should" reads on; "PostgreSQL" stays
        message = message[:1].lower() + message[1:]
    if not error["loc"]:
        return message
    field = str(error["loc"][0])
    if field in given:
        source, shown = f"--{field.replace('_', '-')}", f" {error['input']}"
    else:
        source, shown = f"ROOMLINE_{field.upper()}", f"={error['input']!r}"
    if field in _NOT_REPEATED or not isinstance(error["input"], str | int | float):
        shown = ""
    return f"{source}{shown}: {message}"


# Secrets are never printed; a database URL may hold a password, and its own message
# names it (masked) anyway.
_NOT_REPEATED = {"admin_token", "redis_url", "database_url"}


def export_to_environment(settings: Settings) -> None:
    """Put ``settings`` into this process's environment so worker processes see them."""
    os.environ.update(settings.to_environment())
