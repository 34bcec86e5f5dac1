"""Settings of rating-svc (env prefix ``RATING_``)."""

import datetime as dt

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from rating_svc.events import EVENT_TYPES
from servicekit.events import OutboxSettings
from servicekit.settings import ServiceSettings


class RatingSettings(ServiceSettings, OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", extra="ignore", frozen=True)

    service_name: str = "rating"
    #: How long after its completion a case may be rated (and a rectification rated again after
    #: it was reported), in days: the invitation lapses then.
    rating_window_days: int = Field(default=30, ge=1, le=366)
    #: A bad review's call-back is due this many working days after it (official calendar,
    #: Asia/Shanghai), its rectification this many: Zhejiang's 1 and 15.
    call_back_working_days: int = Field(default=1, ge=1, le=30)
    rectification_working_days: int = Field(default=15, ge=1, le=250)
    #: A department appeals a review of its case within this many working days of the review
    #: (official calendar); a supervisor of the tier above decides.
    appeal_working_days: int = Field(default=5, ge=1, le=60)
    #: How long a client or a cache may keep a published figure before asking again.
    statistics_max_age_seconds: int = Field(default=300, ge=0, le=86400)
    #: The fewest ratings a department needs in the range to be ranked within its region.
    statistics_min_ranked_ratings: int = Field(default=10, ge=1, le=100_000)
    #: How often an instance looks for rectification steps newly past their time (escalated to
    #: the tier above, once) and follow-up invitations that lapsed (0: never, for an instance
    #: that leaves it to the others; replicas running it at once escalate each step once).
    rectification_watch_seconds: float = Field(default=60.0, ge=0, le=3600)
    #: case-svc's OAuth client: the only caller whose events (``case.completed``) rating-svc
    #: takes at ``/ratings/v1/events``.
    case_client_id: str = Field(default="case-svc", min_length=1)

    #: Who is told what (``rating_svc.events``): each event type, with the paths through the
    #: gateway of the services that subscribe to it. None by default.
    event_subscribers: dict[str, list[str]] = Field(default_factory=dict)
    #: rating-svc's own OAuth client, with which the outbox relay posts events to subscribers
    #: (no secret: nothing is relayed, the events wait in the outbox).
    client_id: str = "rating-svc"
    client_secret: SecretStr | None = None

    @field_validator("event_subscribers")
    @classmethod
    def _known_event_types(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"rating-svc emits no {', '.join(unknown)}: {', '.join(EVENT_TYPES)}")
        return value

    @property
    def rating_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.rating_window_days)
