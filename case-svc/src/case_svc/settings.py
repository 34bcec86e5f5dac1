"""Settings of case-svc (env prefix ``CASE_``)."""

import datetime as dt

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from case_svc.events import EVENT_TYPES
from servicekit.events import OutboxSettings
from servicekit.settings import ServiceSettings


class CaseSettings(ServiceSettings, OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_", extra="ignore", frozen=True)

    service_name: str = "case"
    #: A claimed case whose assignee has taken no step for this long may be claimed by another
    #: handler of the department.
    claim_idle_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)

    #: How often an instance watches its deadlines: accepts the applications whose intake was
    #: left undecided past its time, reports the cases newly past their promised time (0:
    #: never, for an instance that leaves it to the others).
    deadline_watch_seconds: float = Field(default=60.0, ge=0, le=3600)

    #: Who is told what (``case_svc.events``): each event type, with the paths through the
    #: gateway of the services that subscribe to it. None by default.
    event_subscribers: dict[str, list[str]] = Field(default_factory=dict)
    #: case-svc's own OAuth client, with which the outbox relay posts events to subscribers.
    client_id: str = "case-svc"
    client_secret: SecretStr | None = None

    @field_validator("event_subscribers")
    @classmethod
    def _known_event_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"case-svc emits no {', '.join(unknown)}: {', '.join(EVENT_TYPES)}")
        return value

    @property
    def claim_idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.claim_idle_minutes)
