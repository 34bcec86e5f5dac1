"""Settings of case-svc (env prefix ``CASE_``)."""

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class CaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASE_", extra="ignore", frozen=True)

    service_name: str = "case"
