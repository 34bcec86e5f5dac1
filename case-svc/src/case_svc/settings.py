"""Settings of case-svc (env prefix ``CASE_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class CaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_", extra="ignore", frozen=True)

    service_name: str = "case"
    #: Cases per page of ``GET /cases/v1/cases`` when the caller names no ``limit``.
    default_page_size: int = Field(default=20, ge=1, le=100)
    #: The most cases one page holds, whatever ``limit`` asks.
    max_page_size: int = Field(default=100, ge=1, le=1000)
