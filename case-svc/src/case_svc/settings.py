"""Settings of case-svc (env prefix ``CASE_``)."""

import datetime as dt
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from case_svc.events import EVENT_TYPES
from servicekit.events import OutboxSettings
from servicekit.settings import ServiceSettings

MIB = 1024 * 1024
#: What a multipart form adds to the file it carries (boundaries, part headers, the name): the
#: body limit leaves this much room above the largest material.
MULTIPART_ALLOWANCE_BYTES = 64 * 1024


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

    #: How often an instance publishes the certificates completed cases issued to the
    #: exchange's certificate library (``case_svc.publications``), as case-svc itself (its
    #: client credentials; none without ``client_secret``). 0: never, for an instance that
    #: leaves it to the others.
    certificate_publish_seconds: float = Field(default=5.0, ge=0, le=3600)

    #: Every list statement planned for its parameters: on a generic plan, a department's red
    #: queue read every open case of the department (p95 22 ms at 10 million cases, against
    #: 9 ms planned each time; ``python -m bench.case_queues``).
    database_plan_cache_mode: Literal["auto", "force_custom_plan"] = "force_custom_plan"

    #: How long the catalog's items and handlers that applications are filed with are kept
    #: (``clients.catalog.CatalogReads``): a published change reaches filing within this time.
    #: 0: asked every time.
    catalog_cache_seconds: float = Field(default=60.0, ge=0, le=3600)

    #: Who is told what (``case_svc.events``): each event type, with the paths through the
    #: gateway of the services that subscribe to it. None by default.
    event_subscribers: dict[str, list[str]] = Field(default_factory=dict)
    #: case-svc's own OAuth client, with which the outbox relay posts events to subscribers.
    client_id: str = "case-svc"
    client_secret: SecretStr | None = None

    #: Where uploaded materials are kept, sealed (``case_svc.materials.storage``): ``local``, a
    #: directory under ``var_dir``; ``s3``, a bucket of an S3-compatible store.
    materials_store: Literal["local", "s3"] = "local"
    #: The largest file a case takes, and how many files one case holds at most.
    material_max_bytes: int = Field(default=10 * MIB, ge=1, le=512 * MIB)
    materials_per_case: int = Field(default=50, ge=1, le=1000)
    #: The S3-compatible store (``materials_store = s3``): its URL (none: AWS's own for the
    #: region), the bucket (made beforehand: case-svc never creates one; one per instance with
    #: a database of its own, as the sweep removes what its database does not refer to), the
    #: region, and the access key (none: the AWS SDK's usual chain, such as an instance role).
    s3_endpoint_url: str | None = None
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    #: ``path`` (``http://host/bucket/key``) is what most S3-compatible stores serve; AWS
    #: serves both.
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    #: How long one request to the store may take (an upload of the largest material included).
    s3_timeout_seconds: float = Field(default=30.0, gt=0)
    #: The sweep of the store (``python -m case_svc.materials sweep``) removes an object no
    #: material refers to once it was written this long ago: far longer than any upload takes
    #: from its write to its commit, so that an upload in flight is never swept.
    materials_sweep_grace_minutes: int = Field(default=60, ge=10, le=30 * 24 * 60)

    @model_validator(mode="after")
    def _body_holds_the_largest_material(self) -> Self:
        """An upload of the largest material must pass the body limit: unless set, the limit
        follows ``material_max_bytes``; set lower, the settings are refused."""
        needed = self.material_max_bytes + MULTIPART_ALLOWANCE_BYTES
        if "max_body_bytes" not in self.model_fields_set:
            # Frozen model: derived once, at construction, as the kit derives its defaults.
            object.__setattr__(self, "max_body_bytes", max(self.max_body_bytes, needed))
        elif self.max_body_bytes < needed:
            raise ValueError(
                f"CASE_MAX_BODY_BYTES ({self.max_body_bytes}) must hold an upload of the largest "
                f"material: CASE_MATERIAL_MAX_BYTES + {MULTIPART_ALLOWANCE_BYTES} = {needed}"
            )
        return self

    @model_validator(mode="after")
    def _a_store_to_reach(self) -> Self:
        if self.materials_store == "s3" and not self.s3_bucket:
            raise ValueError("CASE_MATERIALS_STORE=s3 needs CASE_S3_BUCKET")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set both CASE_S3_ACCESS_KEY_ID and CASE_S3_SECRET_ACCESS_KEY, or neither"
            )
        return self

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

    @property
    def materials_sweep_grace(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.materials_sweep_grace_minutes)
