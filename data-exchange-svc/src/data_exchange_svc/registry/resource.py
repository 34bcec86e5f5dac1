"""How the population registry is published: its entry in the resource catalogue, as data."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    sensitivity: str
    matchable: bool


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    code: str
    name: str
    owner_department_type: str
    classification: str
    hosting: str
    description: str
    fields: tuple[FieldSpec, ...]


POPULATION = ResourceSpec(
    code="population",
    name="人口基础信息（户籍）",
    owner_department_type="public_security",
    classification="conditional",
    hosting="hosted",
    description=(
        "Registered residents: identity, household registration and the face template of the"
        " identity card photo. Hosted in the exchange; synthetic in this deployment."
    ),
    fields=(
        FieldSpec("name", "姓名", "personal", matchable=True),
        FieldSpec("id_number", "公民身份号码", "sensitive_personal", matchable=False),
        FieldSpec("sex", "性别", "personal", matchable=True),
        FieldSpec("birth_date", "出生日期", "personal", matchable=True),
        FieldSpec("ethnicity", "民族", "sensitive_personal", matchable=True),
        FieldSpec("registered_address", "户籍地址", "personal", matchable=True),
        FieldSpec("registered_region", "户籍地行政区划代码", "personal", matchable=True),
        FieldSpec("face_template", "人脸特征模板", "sensitive_personal", matchable=False),
        FieldSpec("id_card_status", "身份证状态", "personal", matchable=True),
    ),
)
