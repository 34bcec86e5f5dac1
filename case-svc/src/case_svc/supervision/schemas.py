"""What the API gives for supervision: one row of figures per group, a page of them, and the
same rows as CSV columns."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.regions import RegionCodeStr

#: What the rows are grouped by: the handling department, an item within its department, or
#: the region the departments lie in (rolled up to a level of the region tree).
GroupBy = Literal["department", "item", "region"]

#: The levels region rows are rolled up to. The province is not among them: each case-svc
#: instance holds the cases of whole cities, so rows of a city or below are held by one
#: instance each, and the gateway merges them as they are.
RegionLevelName = Literal["city", "county", "township", "village"]

#: A row's region's own level: a department above the level asked for is a row of its own
#: region (a provincial department, when rows are cities).
RowRegionLevel = Literal["province", "city", "county", "township", "village"]

SUPERVISION_ROW_EXAMPLE: dict[str, Any] = {
    "department_id": "330300-housing_provident_fund",
    "department_name": "温州市住房公积金管理中心",
    "item_code": None,
    "item_name": None,
    "region_code": "330300",
    "region_level": "city",
    "filed": 120,
    "completed": 96,
    "completed_on_time": 90,
    "on_time_rate": 0.9375,
    "open": 31,
    "overdue": 2,
    "nearly_overdue": 5,
    "average_actual_working_days": 2.41,
    "average_promised_working_days": 3.12,
}


class SupervisionRow(BaseModel):
    """The figures of one group: counts over the period, the open cases as they stand now.
    No case, applicant or staff member is named."""

    model_config = ConfigDict(json_schema_extra={"examples": [SUPERVISION_ROW_EXAMPLE]})

    department_id: str | None = Field(
        description="The handling department (rows by department and by item); null for region rows"
    )
    department_name: str | None = Field(
        description="Its name as its cases carry it (copied when each was filed)"
    )
    item_code: str | None = Field(description="The service item (rows by item); null otherwise")
    item_name: str | None
    region_code: RegionCodeStr = Field(
        description="The department's region; for region rows, the region rolled up to"
    )
    region_level: RowRegionLevel = Field(
        description="The level of region_code: for region rows, the level asked for, or the "
        "department's own region when it lies above that level"
    )
    filed: int = Field(ge=0, description="Cases filed in the period")
    completed: int = Field(ge=0, description="Cases completed in the period")
    completed_on_time: int = Field(
        ge=0,
        description="Of those, completed by their promised time (completed_at <= due_at, the "
        "promise moved on by the working days its clock was paused); a case without a promised "
        "time (an instant item, completed when filed) cannot be late",
    )
    on_time_rate: float | None = Field(
        ge=0,
        le=1,
        description="completed_on_time / completed, to four places; null when none completed",
    )
    open: int = Field(ge=0, description="Cases not yet ended, now (whenever they were filed)")
    overdue: int = Field(ge=0, description="Open cases past their promised time now (red)")
    nearly_overdue: int = Field(
        ge=0, description="Open cases with 80 % of their promised time gone now (yellow)"
    )
    average_actual_working_days: float | None = Field(
        description="The mean working days from filing to completion, on the official "
        "calendar, of the cases completed in the period that had a promised time; null when "
        "there are none"
    )
    average_promised_working_days: float | None = Field(
        description="The mean working days from filing to the promised time of the same "
        "cases, pauses included as in the actual figure"
    )


#: The CSV export's columns, in order: the row's fields.
CSV_COLUMNS: tuple[str, ...] = tuple(SupervisionRow.model_fields)


class SupervisionPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [SUPERVISION_ROW_EXAMPLE], "next_cursor": None}]}
    )

    items: list[SupervisionRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end")
