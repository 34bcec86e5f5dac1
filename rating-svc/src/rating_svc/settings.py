"""Settings of rating-svc (env prefix ``RATING_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", extra="ignore", frozen=True)

    service_name: str = "rating"
    #: A rating with any score at or below this is a bad review, and opens a rectification.
    bad_review_max_score: int = Field(default=2, ge=1, le=4)
