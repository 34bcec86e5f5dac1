"""The relay's settings, mixed into a producing service's settings class."""

from pydantic import BaseModel, Field

from servicekit.events._relay import RelayPolicy

_DEFAULT = RelayPolicy()


class OutboxSettings(BaseModel):
    """Fields of a service whose outbox is relayed, read with the service's env prefix
    (``CASE_OUTBOX_MAX_ATTEMPTS``)::

        class CaseSettings(ServiceSettings, OutboxSettings):
            ...
    """

    #: Off on replicas that must not relay: every replica but one on SQLite, which has no
    #: row locks to share the outbox with.
    outbox_relay_enabled: bool = True
    outbox_batch_size: int = Field(default=_DEFAULT.batch_size, ge=1, le=1000)
    outbox_concurrency: int = Field(default=_DEFAULT.concurrency, ge=1, le=256)
    outbox_poll_seconds: float = Field(default=_DEFAULT.poll_seconds, gt=0)
    outbox_max_attempts: int = Field(default=_DEFAULT.max_attempts, ge=1)
    outbox_backoff_base_seconds: float = Field(default=_DEFAULT.backoff_base_seconds, gt=0)
    outbox_backoff_cap_seconds: float = Field(default=_DEFAULT.backoff_cap_seconds, gt=0)
    #: Days delivered rows are kept after their emission; 0 keeps them for good.
    outbox_retention_days: float = Field(default=(_DEFAULT.retention_seconds or 0) / 86_400, ge=0)

    def relay_policy(self) -> RelayPolicy:
        return RelayPolicy(
            enabled=self.outbox_relay_enabled,
            batch_size=self.outbox_batch_size,
            concurrency=self.outbox_concurrency,
            poll_seconds=self.outbox_poll_seconds,
            max_attempts=self.outbox_max_attempts,
            backoff_base_seconds=self.outbox_backoff_base_seconds,
            backoff_cap_seconds=self.outbox_backoff_cap_seconds,
            retention_seconds=self.outbox_retention_days * 86_400 or None,
        )
