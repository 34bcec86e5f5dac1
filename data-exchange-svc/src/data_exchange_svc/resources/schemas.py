"""What the API gives about data resources."""

from typing import Any, Literal

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


#: The population register, as ``GET /exchange/v1/resources/population`` answers it.
_POPULATION: dict[str, Any] = {
    "code": "population",
    "name": "人口基础信息（户籍）",
    "owner_department_type": "public_security",
    "classification": "conditional",
    "hosting": "hosted",
    "description": "Registered residents: identity, household registration and the face template "
    "of the identity card photo. Hosted in the exchange; synthetic in this deployment.",
    "subject_kinds": ["person"],
    "rows_per_subject": "one",
    "fields": [
        {
            "name": "name",
            "label": "姓名",
            "sensitivity": "personal",
            "matchable": True,
            "type": "text",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "id_number",
            "label": "公民身份号码",
            "sensitivity": "sensitive_personal",
            "matchable": False,
            "type": "subject",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "sex",
            "label": "性别",
            "sensitivity": "personal",
            "matchable": True,
            "type": "choice",
            "choices": ["male", "female"],
            "nullable": False,
        },
        {
            "name": "birth_date",
            "label": "出生日期",
            "sensitivity": "personal",
            "matchable": True,
            "type": "date",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "ethnicity",
            "label": "民族",
            "sensitivity": "sensitive_personal",
            "matchable": True,
            "type": "text",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "registered_address",
            "label": "户籍地址",
            "sensitivity": "personal",
            "matchable": True,
            "type": "text",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "registered_region",
            "label": "户籍地行政区划代码",
            "sensitivity": "personal",
            "matchable": True,
            "type": "region",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "face_template",
            "label": "人脸特征模板",
            "sensitivity": "sensitive_personal",
            "matchable": False,
            "type": "face_template",
            "choices": None,
            "nullable": False,
        },
        {
            "name": "id_card_status",
            "label": "身份证状态",
            "sensitivity": "personal",
            "matchable": True,
            "type": "choice",
            "choices": ["valid", "lost", "expired", "invalid"],
            "nullable": False,
        },
        {
            "name": "age_at_least",
            "label": "年龄不小于（周岁）",
            "sensitivity": "personal",
            "matchable": True,
            "type": "age_at_least",
            "choices": None,
            "nullable": False,
        },
    ],
}


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_POPULATION]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    # A page of one (limit=1), after motor_vehicle's.
                    "items": [_POPULATION],
                    "next_cursor": "eyJhZnRlciI6InBvcHVsYXRpb24ifQ.Tq3vW8mZcX1pLr0sYb7nKg",
                }
            ]
        }
    )

    items: list[ResourceRead]
    #: Pass as ``cursor`` for the next page; None on the last page.
    next_cursor: str | None
