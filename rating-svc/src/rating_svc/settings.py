"""Settings of rating-svc (env prefix ``RATING_``)."""

import datetime as dt

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", extra="ignore", frozen=True)

    service_name: str = "rating"
    #: How long after its completion a case may be rated (and a rectification rated again after
    #: it was reported), in days: the invitation lapses then.
    rating_window_days: int = Field(default=30, ge=1, le=366)
    #: case-svc's OAuth client: the only caller whose events (``case.completed``) rating-svc
    #: takes at ``/ratings/v1/events``.
    case_client_id: str = Field(default="case-svc", min_length=1)

    @property
    def rating_window(self) -> dt.timedelta:
        return dt.timedelta(days=self.rating_window_days)
