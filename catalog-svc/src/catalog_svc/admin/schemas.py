"""What the administration API takes and gives: an item as administrators write it (every field
of the public item but its code, version and status), drafts, published versions and the audit
trail."""

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from catalog_svc.departments.schemas import Tier
from catalog_svc.items.schemas import (
    DECISION_APPROVAL_DESCRIPTION,
    ID_CARD_LOSS_REPORT,
    ISSUES_CERTIFICATE_DESCRIPTION,
    CertificateType,
    DecisionApproval,
    ProcessingMode,
    Subject,
)

Visits = Literal[0, 1, "on_site"]
#: The fields an item may mark as illustrative (figures nobody has checked).
IllustrativeField = Literal[
    "department_type",
    "handling_tier",
    "visits",
    "legal_working_days",
    "promised_working_days",
    "fee",
    "materials",
    "decision_approval",
]
Word = Annotated[str, Field(min_length=1, max_length=64)]
WorkingDays = Annotated[int, Field(ge=0, le=365)]
AuditAction = Literal["created", "draft_opened", "edited", "approved", "published", "withdrawn"]
#: The fields whose change a second administrator approves before it is published: who may
#: apply (the assurance level), who handles the item (the tier), what it costs, and whether a
#: second person approves its decisions (one administrator alone must not remove that control).
SecondPersonField = Literal["min_loa", "handling_tier", "fee", "decision_approval"]
SECOND_PERSON_FIELDS: tuple[SecondPersonField, ...] = get_args(SecondPersonField)

#: How deeply a form may nest objects and arrays: a form is a page of fields, and checking a
#: JSON Schema (and writing one back) recurses over it, which a few hundred levels exhaust.
FORM_MAX_DEPTH = 32


def _shallow(document: dict[str, Any]) -> dict[str, Any]:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping | list):
            if depth > FORM_MAX_DEPTH:
                raise PydanticCustomError(
                    "form_too_deep",
                    "a form nests at most {limit} levels of objects and arrays",
                    {"limit": FORM_MAX_DEPTH},
                )
            children = node.values() if isinstance(node, Mapping) else node
            stack.extend((child, depth + 1) for child in children)
    return document


FormSchema = Annotated[dict[str, Any], AfterValidator(_shallow)]


class FeeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    free: bool
    amount_cny: str | None = Field(
        default=None, pattern=r"^[0-9]{1,7}\.[0-9]{2}$", description="e.g. '20.00'"
    )
    basis: str | None = Field(default=None, max_length=500)


class MaterialWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    required: bool
    provided_as: Literal["data_sharing", "upload", "paper"]
    note: str | None = Field(default=None, max_length=500)


class ItemContent(BaseModel):
    """An item as administrators write it: what the public item says, but its code, version
    and status."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    aliases: list[Word] = Field(default_factory=list, max_length=30)
    keywords: list[Word] = Field(default_factory=list, max_length=30)
    department_type: str = Field(min_length=1, max_length=48)
    handling_tier: Tier
    subject: Subject
    topics: list[Word] = Field(default_factory=list, max_length=10)
    visits: Visits = Field(
        description="0: nothing to attend; 1: at most one visit; on_site: done at the counter"
    )
    processing_mode: ProcessingMode
    decision_approval: DecisionApproval = Field(
        default="single", description=DECISION_APPROVAL_DESCRIPTION
    )
    issues_certificate: CertificateType | None = Field(
        default=None, description=ISSUES_CERTIFICATE_DESCRIPTION
    )
    min_loa: int = Field(ge=1, le=3, description="1 password, 2 real name, 3 face")
    legal_working_days: WorkingDays | None = None
    promised_working_days: WorkingDays | None = Field(
        default=None, description="At most legal_working_days"
    )
    fee: FeeWrite
    materials: list[MaterialWrite] = Field(default_factory=list, max_length=50)
    form_schema: FormSchema = Field(
        description="JSON Schema (2020-12) of an object; a field's x-prefill is "
        '{"resource": ..., "field": ...}, a data resource field that can fill it; a text '
        "field's x-applicant says it holds the applicant's own identity: name or id_number "
        "(a person's), credit_code or enterprise_name (an enterprise's), each on one field, "
        "in an item of min_loa 2 or more"
    )
    offered_in: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Official codes of current regions the item is listed in; empty: everywhere",
    )
    illustrative: list[IllustrativeField] = Field(default_factory=list)
    notes: str | None = Field(default=None, max_length=4000)


class ItemCreate(ItemContent):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "public_security.dog_licence_synthetic",
                    "name": "犬只登记证办理（合成数据）",
                    "aliases": ["狗证办理", "养狗登记"],
                    "keywords": ["犬只", "狗证"],
                    "department_type": "public_security",
                    "handling_tier": "county",
                    "subject": "person",
                    "topics": ["证件办理"],
                    "visits": 1,
                    "processing_mode": "review",
                    "decision_approval": "single",
                    "min_loa": 2,
                    "legal_working_days": 20,
                    "promised_working_days": 5,
                    "fee": {"free": True},
                    "materials": [
                        {
                            "name": "犬只免疫证明",
                            "required": True,
                            "provided_as": "upload",
                            "note": None,
                        }
                    ],
                    "form_schema": {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "title": "犬只登记证办理（合成数据）",
                        "type": "object",
                        "properties": {
                            "name": {
                                "type": "string",
                                "title": "姓名",
                                "x-prefill": {"resource": "population", "field": "name"},
                                "x-applicant": "name",
                            },
                            "dog_breed": {"type": "string", "title": "犬只品种", "maxLength": 50},
                        },
                        "required": ["name", "dog_breed"],
                        "additionalProperties": False,
                    },
                    "offered_in": ["330300"],
                    "illustrative": ["fee"],
                    "notes": "合成数据：测试用事项",
                }
            ]
        }
    )

    code: str = Field(
        min_length=1,
        max_length=200,
        description="<department type>.<slug>, lower-case ASCII, at most 64 characters; the "
        "department type is the item's; never changes, never reused",
    )


#: The fields of an item that may be null; a change may not set any other one to null.
_NULLABLE = frozenset(
    {"legal_working_days", "promised_working_days", "notes", "issues_certificate"}
)


class ItemChanges(BaseModel):
    """Changes to a draft: each member given replaces the draft's (nested objects, such as the
    form, are replaced whole); members not given stay as they are."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"promised_working_days": 3, "visits": 0}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=128)
    aliases: list[Word] | None = Field(default=None, max_length=30)
    keywords: list[Word] | None = Field(default=None, max_length=30)
    department_type: str | None = Field(default=None, min_length=1, max_length=48)
    handling_tier: Tier | None = None
    subject: Subject | None = None
    topics: list[Word] | None = Field(default=None, max_length=10)
    visits: Visits | None = None
    processing_mode: ProcessingMode | None = None
    decision_approval: DecisionApproval | None = None
    issues_certificate: CertificateType | None = None
    min_loa: int | None = Field(default=None, ge=1, le=3)
    legal_working_days: WorkingDays | None = None
    promised_working_days: WorkingDays | None = None
    fee: FeeWrite | None = None
    materials: list[MaterialWrite] | None = Field(default=None, max_length=50)
    form_schema: FormSchema | None = None
    offered_in: list[str] | None = Field(default=None, max_length=100)
    illustrative: list[IllustrativeField] | None = None
    notes: str | None = Field(default=None, max_length=4000)

    @field_validator("*")
    @classmethod
    def _null_only_where_allowed(cls, value: object, info: ValidationInfo) -> object:
        # Runs for members given only (defaults are not validated): an explicit null.
        if value is None and info.field_name not in _NULLABLE:
            raise PydanticCustomError("null_not_allowed", "this field cannot be null")
        return value

    def given(self) -> dict[str, Any]:
        """The members given, as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class Editor(BaseModel):
    sub: str
    dept: str | None


class Approval(BaseModel):
    by: Editor
    at: dt.datetime


#: The examples' administrator: a catalog_admin of the provincial public security department,
#: and the second version of the item they edit (one more promised working day).
_EDITOR: dict[str, Any] = {
    "sub": "0196f3cc-4a5b-7c6d-8e7f-809102132435",
    "dept": "330000-public_security",
}
#: A second administrator of the same department, who approves a change.
_APPROVER: dict[str, Any] = {
    "sub": "0196f3cc-5b6c-7d7e-8f80-910213243546",
    "dept": "330000-public_security",
}
_EDITED: dict[str, Any] = {**ID_CARD_LOSS_REPORT, "promised_working_days": 1}


class DraftRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "public_security.id_card_loss_report",
                    "version": 2,
                    "based_on_version": 1,
                    "revision": 2,
                    "created_at": "2026-11-26T01:50:02Z",
                    "updated_at": "2026-11-26T01:52:47Z",
                    "updated_by": _EDITOR,
                    "item": _EDITED,
                    "changes_needing_approval": [],
                    "approval": None,
                },
                {
                    "code": "public_security.id_card_loss_report",
                    "version": 2,
                    "based_on_version": 1,
                    "revision": 3,
                    "created_at": "2026-11-26T01:50:02Z",
                    "updated_at": "2026-11-26T01:54:10Z",
                    "updated_by": _EDITOR,
                    "item": {**_EDITED, "min_loa": 2},
                    "changes_needing_approval": ["min_loa"],
                    "approval": {"by": _APPROVER, "at": "2026-11-26T02:01:31Z"},
                },
            ]
        }
    )

    code: str
    version: int = Field(description="The version publishing the draft makes")
    based_on_version: int | None = Field(
        description="The published version the draft was opened from; null for a new item"
    )
    revision: int = Field(description="Counts the draft's edits; with the version, its ETag")
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: Editor
    item: ItemContent
    changes_needing_approval: list[SecondPersonField] = Field(
        description="The fields the draft changes from the published version (all of them for "
        "an item never published) that a second administrator approves before it is published"
    )
    approval: Approval | None = Field(
        description="The second administrator's approval of this revision; null: none yet (an "
        "edit withdraws it)"
    )


class VersionRead(BaseModel):
    version: int
    published_at: dt.datetime
    published_by: Editor | None = Field(description="null: loaded by the seed from the files")
    item: ItemContent


class VersionPage(BaseModel):
    """Published versions, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "version": 2,
                            "published_at": "2026-11-26T02:05:44Z",
                            "published_by": _EDITOR,
                            "item": _EDITED,
                        },
                        {
                            "version": 1,
                            "published_at": "2026-11-01T00:00:00Z",
                            "published_by": None,
                            "item": ID_CARD_LOSS_REPORT,
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[VersionRead]
    next_cursor: str | None


class AuditEntryRead(BaseModel):
    id: uuid.UUID
    item_code: str
    action: AuditAction
    version: int = Field(description="The version acted on (a draft: the one it will make)")
    at: dt.datetime
    actor: Editor
    changed_fields: list[str]
    changes: dict[str, dict[str, Any]] = Field(description='Field → {"from": before, "to": after}')


class AuditPage(BaseModel):
    """The audit trail of an item, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": "0196f3cd-5b6c-7d7e-8f80-910213243546",
                            "item_code": "public_security.id_card_loss_report",
                            "action": "published",
                            "version": 2,
                            "at": "2026-11-26T02:05:44Z",
                            "actor": _EDITOR,
                            "changed_fields": ["promised_working_days"],
                            "changes": {"promised_working_days": {"from": 0, "to": 1}},
                        },
                        {
                            "id": "0196f3cd-4a5b-7c6d-9e7f-809102132435",
                            "item_code": "public_security.id_card_loss_report",
                            "action": "edited",
                            "version": 2,
                            "at": "2026-11-26T01:52:47Z",
                            "actor": _EDITOR,
                            "changed_fields": ["promised_working_days"],
                            "changes": {"promised_working_days": {"from": 0, "to": 1}},
                        },
                        {
                            "id": "0196f3cd-3948-7a5b-8c6d-7e8f90a1b2c3",
                            "item_code": "public_security.id_card_loss_report",
                            "action": "draft_opened",
                            "version": 2,
                            "at": "2026-11-26T01:50:02Z",
                            "actor": _EDITOR,
                            "changed_fields": [],
                            "changes": {},
                        },
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[AuditEntryRead]
    next_cursor: str | None
