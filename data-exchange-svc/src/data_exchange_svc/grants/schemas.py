"""What the grant workflow takes and gives."""

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from data_exchange_svc.calls.schemas import FieldName, Purpose, ResourceCode
from servicekit.regions import RegionCodeStr

Note = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RateLimit(BaseModel):
    """A token bucket: ``burst`` calls at once, then ``per_minute`` a minute. Counted per
    process of the exchange (see grants.rate_limits)."""

    model_config = ConfigDict(extra="forbid")

    per_minute: int = Field(ge=1, le=6_000_000)
    #: Calls allowed at once; by default a second's worth of the rate (at least 1).
    burst: int | None = Field(default=None, ge=1, le=100_000)

    @property
    def bucket_size(self) -> int:
        return self.burst if self.burst is not None else max(1, -(-self.per_minute // 60))


class GrantApply(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resource": "population",
                    "fields": ["name", "registered_region"],
                    "purposes": ["case_prefill"],
                    "legal_basis": "《浙江省公共数据条例》第二十三条（合成数据）",
                    "rate_limit": {"per_minute": 600, "burst": 60},
                }
            ]
        },
    )

    resource: ResourceCode
    fields: list[FieldName] = Field(min_length=1, max_length=32)
    #: From the controlled list (``grants/purposes.toml``); the platform's reserved ones
    #: cannot be applied for.
    purposes: list[Purpose] = Field(min_length=1, max_length=8)
    legal_basis: Note
    #: The rate the consumer asks for: every grant has one (422 ``rate_limit_required``).
    rate_limit: RateLimit | None = None


class GrantApprove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "expires_at": "2027-11-26T00:00:00Z",
                    "rate_limit": {"per_minute": 600, "burst": 60},
                    "region": "330302",
                }
            ]
        },
    )

    #: Every approved grant expires: at most a year ahead.
    expires_at: dt.datetime
    #: The rate the provider allows. Left out: the rate the consumer asked for. Every grant has
    #: one: null is refused (422 ``rate_limit_required``).
    rate_limit: RateLimit | None = None
    #: The region whose subjects the grant covers: the steward's own (the default) or one
    #: below it. A resource its records do not place (vehicles, certificates, remote ones) is
    #: granted by the province's steward, province-wide.
    region: RegionCodeStr | None = None


class GrantDecisionNote(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "用途与事项无关"}]}
    )

    reason: Note


class GrantRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0196f3cb-3f4a-7b5c-8d6e-7f8091021324",
                    "consumer": "330302-civil_affairs",
                    "resource": "population",
                    "fields": ["name", "registered_region"],
                    "purposes": ["case_prefill"],
                    "legal_basis": "《浙江省公共数据条例》第二十三条（合成数据）",
                    "status": "approved",
                    "expires_at": "2027-11-26T00:00:00Z",
                    "revoked_at": None,
                    "applied_by": "staff-lucheng-civil-01",
                    "decided_by": "staff-province-ps-01",
                    "decided_at": "2026-11-20T02:00:00Z",
                    "decision_note": None,
                    "rate_limit": {"per_minute": 600, "burst": 60},
                    "region": "33",
                    "created_at": "2026-11-19T08:30:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    consumer: str
    resource: str = Field(validation_alias="resource_code")
    fields: list[str]
    purposes: list[str]
    legal_basis: str | None
    status: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    applied_by: str | None
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    #: ``{"per_minute", "burst"}`` (asked for while pending, allowed once approved); None: no
    #: limit of its own.
    rate_limit: RateLimit | None
    #: The significant prefix of the region whose subjects it covers (set at approval); None:
    #: the platform's own grants, everywhere.
    region: str | None
    created_at: dt.datetime
