"""What the API gives about data resources."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Classification = Literal["unconditional", "conditional", "not_shared"]
Sensitivity = Literal["general", "personal", "sensitive_personal"]


class ResourceFieldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    label: str
    sensitivity: Sensitivity
    #: Whether a match may compare a claimed value with it (verify without sharing).
    matchable: bool
    #: text, date, month, integer, amount, boolean, choice, region, id_number,
    #: household_members, face_template, subject (the subject's own identifier), or a predicate
    #: (age_at_least, currently_valid) that only a match can ask.
    type: str = Field(validation_alias="value_type")
    #: The allowed values of a choice (the relations, for household members).
    choices: list[str] | None
    #: Whether a record may leave it empty (null).
    nullable: bool


class ResourceRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "population",
                    "name": "人口基础信息（合成数据）",
                    "owner_department_type": "public_security",
                    "classification": "conditional",
                    "hosting": "hosted",
                    "description": "居民身份、户籍登记信息",
                    "subject_kinds": ["person"],
                    "rows_per_subject": "one",
                    "fields": [
                        {
                            "name": "registered_region",
                            "label": "户籍地区划",
                            "sensitivity": "personal",
                            "matchable": True,
                            "type": "region",
                            "choices": None,
                            "nullable": False,
                        }
                    ],
                }
            ]
        },
    )

    code: str
    name: str
    owner_department_type: str
    classification: Classification
    hosting: Literal["hosted", "remote"]
    description: str | None
    #: Whom a call or match may name: "person" (subject {"id_number"}), "enterprise" (subject
    #: {"credit_code"}).
    subject_kinds: list[Literal["person", "enterprise"]]
    #: one | many: a many-row resource answers each field with the list of a subject's rows.
    rows_per_subject: Literal["one", "many"]
    fields: list[ResourceFieldRead]


class ResourcePage(BaseModel):
    items: list[ResourceRead]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None
