"""What the API takes and gives for cases."""

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from case_svc.workflow.state_machine import Action, CaseStatus, Clock, DecisionApproval, Role
from servicekit.case_numbers import CaseNumberStr
from servicekit.regions import RegionCode, RegionCodeStr


class CaseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_code": "public_security.id_card_loss_report",
                    "form": {
                        "loss_reason": "lost",
                        "loss_date": "2026-11-25",
                        "loss_place": "温州市鹿城区松台街道",
                        "contact_phone": "13957700000",
                    },
                }
            ]
        },
    )

    #: Letters, digits, dot, dash and underscore: the code goes into the catalog's URL path.
    item_code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    form: dict[str, Any] = Field(
        default_factory=dict,
        description="The item's form, checked against its form_schema. Its fields of the "
        "applicant's identity (x-applicant) may be left out: they are filled in from the "
        "verified identity, and a form that names anyone else in them is refused",
    )
    applicant_region: RegionCode | None = Field(
        default=None,
        description="Where the applicant applies; defaults to the token's registered region",
    )


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: CaseStatus
    action: str = Field(
        description="submit, the transition that led to this status, or claim, release and "
        "reassign (the status unchanged)"
    )
    at: dt.datetime
    actor: str | None = Field(
        description="The account that acted, or 'system'; to the applicant, staff are shown by "
        "their part and staff number only (null)"
    )
    actor_role: Role
    staff_no: str | None = Field(
        default=None,
        description="The staff number (工号) of the staff member who acted, shown to the "
        "applicant too: who handled her case, without their name",
        examples=["330300-0002"],
    )
    acting_for: str | None = Field(default=None, description="The applicant a delegate acted for")
    clock: Clock = Field(description="The deadline clock after this step")
    note: str | None
    detail: dict[str, Any] | None = Field(
        default=None,
        description="What the step carried: a supplement notice's fields and materials, the "
        "fields supplied, the new assignee",
    )


#: A case in a list, as its applicant sees it: the examples of the answers that show one.
CASE_SUMMARY_EXAMPLE: dict[str, Any] = {
    "case_no": "330302-20261126-000001",
    "status": "submitted",
    "item_code": "public_security.id_card_loss_report",
    "item_name": "居民身份证挂失申报",
    "applicant_id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
    "actor_id": None,
    "department_id": "330302-public_security",
    "department_name": "温州市公安局鹿城区分局",
    "region_code": "330302",
    "applicant_region": "330302026003",
    "submitted_at": "2026-11-26T01:40:12Z",
    "completed_at": None,
    "due_at": "2026-11-27T15:59:59Z",
    "warn_at": "2026-11-27T06:19:21Z",
    "statutory_due_at": None,
    "assignee_id": None,
    "deadline_colour": "green",
    "version": 1,
}


#: How near its promised time an open case is: green, yellow once 80 % of it is gone, red when
#: overdue (on a paused clock, as it stood when it paused).
DeadlineColour = Literal["green", "yellow", "red"]


class CaseSummary(BaseModel):
    """A case in a list: no form, no history."""

    case_no: CaseNumberStr
    status: CaseStatus
    item_code: str
    item_name: str
    applicant_id: str
    actor_id: str | None
    department_id: str
    department_name: str
    region_code: RegionCodeStr = Field(
        description="The handling department's region (official code)"
    )
    applicant_region: RegionCodeStr
    submitted_at: dt.datetime
    completed_at: dt.datetime | None
    due_at: dt.datetime | None = Field(description="The promised time (承诺时限)")
    warn_at: dt.datetime | None = Field(
        description="When the case turns yellow: 80 % of its promised time gone"
    )
    statutory_due_at: dt.datetime | None = Field(
        description="The statutory time of the decision (法定时限), from acceptance"
    )
    assignee_id: str | None = Field(
        description="The staff member the case is claimed by (null to its applicant)"
    )
    deadline_colour: DeadlineColour | None = Field(
        default=None,
        description="green, yellow (80 % of the promised time gone) or red (overdue); null for "
        "a case without a promised time or one that has ended",
    )
    version: int


class CertificateIssue(BaseModel):
    """The electronic certificate the result is: the number the department gave it, and its
    validity. case-svc publishes it to the exchange's certificate library."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^\S+$",
        description="The certificate's number, as the department made it",
        examples=["330300260001234"],
    )
    valid_from: dt.date
    valid_until: dt.date | None = Field(default=None, description="None: without a time limit")

    @model_validator(mode="after")
    def _a_period(self) -> "CertificateIssue":
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class CertificatePublicationRead(BaseModel):
    """Where the certificate's publication to the exchange's certificate library stands."""

    status: Literal["pending", "published", "refused"] = Field(
        description="pending: case-svc is publishing it (retrying while the exchange is away); "
        "published: the library holds it (the receipt proves it); refused: the exchange refused "
        "it for good (refusal_code), for the department to take up"
    )
    attempts: int
    published_at: dt.datetime | None
    call_id: str | None = Field(description="The exchange's id of the publication")
    receipt: dict[str, Any] | None = Field(
        description="The ledger receipt of the publication, verifiable at the exchange"
    )
    refusal_code: str | None


class IssuedCertificateRead(BaseModel):
    """The electronic certificate the completed case issued, and its publication."""

    type: str = Field(description="As the exchange's certificate library types it")
    number: str
    valid_from: dt.date
    valid_until: dt.date | None
    issuing_department: str
    publication: CertificatePublicationRead


#: Where a value of a form came from.
Source = Literal["verified_identity", "data_resource", "typed"]


class ConsentBasis(BaseModel):
    """The consent a read rests on, as the exchange checked it: hers, to this department, for
    this purpose and this draft."""

    consumer: str
    purpose: str
    case_id: str
    consent_ids: list[str] = Field(
        default_factory=list, description="Her consents, by the exchange's ids"
    )


class FieldProvenance(BaseModel):
    source: Source
    #: A field of her verified identity: it cannot be changed.
    locked: bool = False
    resource: str | None = Field(default=None, description="The data resource read")
    resource_field: str | None = None
    provider_department_type: str | None = Field(
        default=None, description="The kind of department that provides the resource"
    )
    call_id: str | None = Field(default=None, description="The exchange's call")
    receipt: dict[str, Any] | None = Field(
        default=None, description="The call's ledger receipt, checkable offline"
    )
    source_time: dt.datetime | None = Field(
        default=None, description="When the source record was last loaded or updated"
    )
    consent: ConsentBasis | None = None
    at: dt.datetime = Field(description="When the value was filled in or typed")


class CaseRead(CaseSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **CASE_SUMMARY_EXAMPLE,
                    "item_version": "1",
                    "processing_mode": "instant",
                    "applicant_type": "citizen",
                    "form": {
                        "name": "林秀英",
                        "id_number": "330302195203140248",
                        "loss_reason": "lost",
                        "loss_date": "2026-11-25",
                        "loss_place": "温州市鹿城区松台街道",
                        "contact_phone": "13957700000",
                    },
                    "updated_at": "2026-11-26T01:40:12Z",
                    "due_at_provisional": False,
                    "decision_approval": "single",
                    "clock": "running",
                    "history": [
                        {
                            "status": "submitted",
                            "action": "submit",
                            "at": "2026-11-26T01:40:12Z",
                            "actor": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d",
                            "actor_role": "applicant",
                            "acting_for": None,
                            "clock": "running",
                            "note": None,
                            "detail": None,
                        }
                    ],
                    "available_actions": ["withdraw"],
                }
            ]
        }
    )

    item_version: str
    processing_mode: str
    applicant_type: str
    form: dict[str, Any]
    updated_at: dt.datetime
    due_at_provisional: bool = Field(
        description="The due date falls where the official holiday schedule is not yet published"
    )
    decision_approval: DecisionApproval = Field(
        description="Who decides it: the handler who reviewed it (single), or a supervisor "
        "who did not (second_person)"
    )
    clock: Clock = Field(description="Whether its deadline clock runs now")
    form_provenance: dict[str, FieldProvenance] | None = Field(
        default=None,
        description="Filed from a draft application: where each field's value came from (her "
        "verified identity, a data resource read through the exchange with her consent, or "
        "typed by her)",
    )
    issues_certificate: str | None = Field(
        default=None,
        description="The electronic certificate its completion issues (the item's); None: none",
    )
    certificate: IssuedCertificateRead | None = Field(
        default=None,
        description="Once delivered: the certificate it issued, and its publication to the "
        "exchange's certificate library",
    )
    history: list[HistoryEntry]
    available_actions: list[Action] = Field(description="The transitions the caller may make now")


class CasePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [CASE_SUMMARY_EXAMPLE],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end")


#: A form field's name, as the item's form schema names it.
FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]


#: A material's name, as the item lists it (营业执照, 退休证明) or as the handler writes it.
MaterialName = Annotated[str, Field(min_length=1, max_length=100)]


class SupplementNotice(BaseModel):
    """The one-time supplement notice (一次性告知): everything the applicant must correct or
    bring, at once. The note says why, in words."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FieldName] = Field(
        default_factory=list,
        max_length=50,
        description="The form fields to correct or complete (not the applicant's identity: "
        "that is verified, not typed)",
    )
    materials: list[MaterialName] = Field(
        default_factory=list,
        max_length=20,
        description="The materials to upload (POST .../materials with the same name) before "
        "the supplement is sent",
    )

    @model_validator(mode="after")
    def _names_something(self) -> "SupplementNotice":
        if not self.fields and not self.materials:
            raise ValueError("a notice names at least one field or material")
        return self


class Extension(BaseModel):
    """More time for the decision: at most ten working days, once (art. 42)."""

    model_config = ConfigDict(extra="forbid")

    working_days: int = Field(ge=1, le=10, description="Working days added to the deadlines")


class Suspension(BaseModel):
    """A special procedure that stops the clock until the case resumes."""

    model_config = ConfigDict(extra="forbid")

    procedure: Literal["expert_review", "inspection", "hearing", "testing"]
    expected_end: dt.date = Field(description="When the procedure is expected to end")


class Transfer(BaseModel):
    """The department of the case's region that should handle it."""

    model_config = ConfigDict(extra="forbid")

    department_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[0-9]{6,12}-[a-z_]+$",
        description="<official region code>-<type>, of the case's own region",
        examples=["330302-civil_affairs"],
    )


class QueueCounts(BaseModel):
    """The department's open cases, counted as its queue's filters count them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "open": 42,
                    "by_status": {"submitted": 12, "in_review": 20, "supplement_requested": 10},
                    "by_deadline_colour": {"green": 30, "yellow": 8, "red": 4},
                    "mine": 7,
                    "unassigned": 15,
                }
            ]
        }
    )

    open: int = Field(description="Cases not yet ended")
    by_status: dict[CaseStatus, int] = Field(description="Open cases by status (none: absent)")
    by_deadline_colour: dict[DeadlineColour, int]
    mine: int = Field(description="Held by the caller")
    unassigned: int = Field(description="Held by no one (or by a claim that lapsed)")


class TransitionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "accept", "note": "材料齐全，予以受理"},
                {
                    "action": "request_supplement",
                    "note": "银行账号与本人不符，提取金额超出可提取余额；请上传退休证明",
                    "notice": {"fields": ["bank_account", "amount_cny"], "materials": ["退休证明"]},
                },
                {
                    "action": "supplement",
                    "form": {"bank_account": "6222020200112233445", "amount_cny": "12000"},
                },
            ]
        },
    )

    action: Action
    note: str | None = Field(default=None, max_length=1000)
    notice: SupplementNotice | None = Field(
        default=None, description="request_supplement: what to correct, all in one notice"
    )
    form: dict[str, Any] | None = Field(
        default=None,
        description="supplement: a value for each field the notice named, and nothing else",
    )
    extension: Extension | None = Field(default=None, description="extend: how much more time")
    suspension: Suspension | None = Field(
        default=None, description="suspend: the special procedure"
    )
    transfer: Transfer | None = Field(default=None, description="transfer: to which department")
    certificate: CertificateIssue | None = Field(
        default=None,
        description="deliver, for an item that issues a certificate (and only then): the "
        "certificate the result is",
    )


class AssigneeUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assignee_id": "0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9e"}]},
    )

    assignee_id: str | None = Field(
        min_length=1,
        max_length=64,
        description="The handler of the department to take the case over; null to unassign",
    )
