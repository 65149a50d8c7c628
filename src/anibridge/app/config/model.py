"""The shape of `anibridge.yaml`, as pydantic models (strict: unknown keys are errors).

One file holds the app settings and any number of *profiles*. A profile pairs a source
provider with a target provider and says how to sync them (direction, fields, policy,
schedule). Provider configs stay free-form mappings: each provider validates its own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from anibridge.messages import quote
from anibridge.provider.base import RecordField, Status

__all__ = [
    "AppConfig",
    "BackupSettings",
    "HostedSettings",
    "MappingsSettings",
    "ProfileConfig",
    "ProviderSpec",
    "RuleConfig",
    "ScheduleConfig",
    "WebConfig",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSpec(_Strict):
    """One provider instance: which implementation and its own config."""

    type: str = Field(description="entry-point name, e.g. local, anilist, plex")
    name: str | None = Field(
        default=None,
        pattern=_NAME,
        description="stable key for links/history (default: the type)",
    )
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("config", mode="before")
    @classmethod
    def _empty_config(cls, value: Any) -> Any:
        # `config:` with every key commented out (as `anibridge init` writes
        # optional keys) is YAML null: no keys, not an error.
        return {} if value is None else value

    @property
    def key(self) -> str:
        """The provider key used in the store."""
        return self.name or self.type


class ScheduleConfig(_Strict):
    """When the service runs a profile (the CLI ignores it)."""

    interval: int | None = Field(default=None, ge=60, description="seconds")
    cron: str | None = None
    poll: int | None = Field(default=None, ge=10, description="change-feed seconds")
    webhooks: bool = True

    @model_validator(mode="after")
    def _one_timer(self) -> ScheduleConfig:
        if self.interval is not None and self.cron is not None:
            raise ValueError("give either interval or cron, not both")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(
                    f"cron {quote(self.cron)} is not a valid cron expression"
                )
        return self


class RuleConfig(_Strict):
    """A declarative skip rule: skip `fields` when every condition holds."""

    name: str
    fields: list[RecordField]
    when_target_status: list[Status] = Field(default_factory=list)
    when_desired_status: list[Status] = Field(default_factory=list)
    when_provider: list[str] = Field(default_factory=list)


class ProfileConfig(_Strict):
    """One sync pairing and its policy."""

    source: ProviderSpec
    target: ProviderSpec
    owner: str | None = Field(
        default=None,
        description=(
            "the account (web login) this profile belongs to: it alone (and admins) "
            "sees its runs, journal, backups, jobs and webhooks; default the admin"
        ),
    )
    direction: Literal["one_way", "two_way"] = "one_way"
    fields: list[RecordField] | Literal["all"] = "all"
    progress_mode: Literal["count", "index"] = "count"
    allow_deletes: bool = False
    allow_regression: bool | list[RecordField] = Field(
        default=False,
        description=(
            "let status/progress/dates/rewatches move backwards (un-watching lowers "
            "progress): true for all, or a list of fields"
        ),
    )
    max_delete_fraction: float = Field(default=0.10, ge=0.0, le=1.0)
    timezone: str | None = None
    conflict: Literal["newest", "priority"] = "newest"
    priority: list[str] = Field(default_factory=list)
    status_inference_overrides: bool = False
    sync_events: bool = True
    fuzzy_threshold: float | None = Field(default=None, ge=0, le=100)
    empty_status: bool = False
    rules: list[RuleConfig] = Field(default_factory=list)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)

    @model_validator(mode="after")
    def _distinct_keys(self) -> ProfileConfig:
        if self.source.key == self.target.key:
            raise ValueError(
                f"source and target both have the key {quote(self.source.key)}; give "
                "one of them a distinct 'name'"
            )
        return self


class BackupSettings(_Strict):
    """Backups written before the first write of every run."""

    before_write: bool = True
    retention: int = Field(default=10, ge=0, description="files kept per target; 0=all")
    directory: str | None = Field(
        default=None, description="default: <data_dir>/backups"
    )


class MappingsSettings(_Strict):
    """Which mappings the engine uses."""

    include_default: bool = True
    custom: list[str] = Field(default_factory=list, description="extra files/URLs")


class WebConfig(_Strict):
    """How `anibridge serve` listens and authenticates (see anibridge.app.web)."""

    host: str = "127.0.0.1"
    port: int = Field(default=4848, ge=0, le=65535)
    path_prefix: str = ""
    auth: bool = Field(default=True, description="off is refused on non-loopback")
    admin_password: str | dict[str, str] | None = Field(
        default=None, description="secret ({env: NAME} / {file: PATH}); else generated"
    )
    secure_cookies: bool | Literal["auto"] = "auto"
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (addresses/CIDRs) whose X-Forwarded-For counts",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names answered besides the bind address, localhost and "
        "public_url's host",
    )
    public_url: str | None = Field(
        default=None, description="how users reach the service, e.g. https://a.example"
    )
    trust_proxy: bool = Field(
        default=False, description="replaced by trusted_proxies (true is refused)"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        from anibridge.app.web.hosts import parse_proxies

        parse_proxies(value)
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        from anibridge.app.web.hosts import host_pattern

        for item in value:
            host_pattern(item)
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        from anibridge.app.web.hosts import parse_public_url

        parse_public_url(value)
        return value

    @field_validator("trust_proxy")
    @classmethod
    def _old_proxy(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "replaced by trusted_proxies: list your reverse proxy's addresses "
                "(e.g. [172.18.0.0/16]); trust_proxy believed X-Forwarded-For from "
                "every client, so anyone could pick their own address"
            )
        return value


class HostedSettings(_Strict):
    """Hosted mode: many accounts, jobs on the PostgreSQL queue (docs/hosting.md)."""

    enabled: bool = Field(
        default=False, description="serve enqueues jobs; `anibridge worker` runs them"
    )
    concurrency: int = Field(
        default=4, ge=1, le=256, description="jobs one worker process runs at once"
    )
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base: float = Field(default=30.0, ge=0, description="seconds, doubling")
    retry_cap: float = Field(default=1800.0, ge=0)
    heartbeat: float = Field(default=10.0, gt=0, description="seconds")
    stall_timeout: float = Field(
        default=120.0, gt=0, description="seconds without a heartbeat: worker dead"
    )
    stall_check: int = Field(default=30, ge=1, le=59, description="seconds")

    @model_validator(mode="after")
    def _stall_after_heartbeats(self) -> HostedSettings:
        if self.stall_timeout < 3 * self.heartbeat:
            raise ValueError(
                "stall_timeout must be at least 3 heartbeats, or a busy worker "
                "would be taken for dead"
            )
        return self


class AppConfig(_Strict):
    """The whole `anibridge.yaml`."""

    data_dir: str = "data"
    store_url: str | None = None
    timezone: str = "UTC"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    lock_wait: float = Field(
        default=60.0,
        ge=0,
        description=(
            "seconds a run waits for another run of the same profile to finish "
            "before giving up (exit code 75)"
        ),
    )
    backups: BackupSettings = Field(default_factory=BackupSettings)
    mappings: MappingsSettings = Field(default_factory=MappingsSettings)
    web: WebConfig = Field(default_factory=WebConfig)
    hosted: HostedSettings = Field(default_factory=HostedSettings)
    profiles: dict[str, ProfileConfig] = Field(default_factory=dict)

    @field_validator("profiles")
    @classmethod
    def _profile_names(
        cls, value: dict[str, ProfileConfig]
    ) -> dict[str, ProfileConfig]:
        import re

        for name in value:
            if not re.match(_NAME, name):
                raise ValueError(
                    f"profile name {quote(name)} must be letters, digits, '.', '_' "
                    "or '-'"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from anibridge.dates import resolve_timezone

        resolve_timezone(value)
        return value
