"""Settings of case-svc (env prefix ``CASE_``)."""

import datetime as dt

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class CaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_", extra="ignore", frozen=True)

    service_name: str = "case"
    #: A claimed case whose assignee has taken no step for this long may be claimed by another
    #: handler of the department.
    claim_idle_minutes: int = Field(default=240, ge=1, le=7 * 24 * 60)

    #: How often an instance accepts the applications whose intake was left undecided past its
    #: time (0: never, for an instance that leaves it to the others).
    deemed_acceptance_seconds: float = Field(default=60.0, ge=0, le=3600)

    @property
    def claim_idle(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.claim_idle_minutes)
