"""What the API gives for one-issue bundles."""

from typing import Any

from pydantic import BaseModel, Field

from catalog_svc.departments.schemas import Tier
from catalog_svc.items.schemas import Subject


class BundleSummary(BaseModel):
    code: str
    name: str
    subject: Subject
    specified: bool = Field(description="Whether the catalogue lists its items and form yet")
    item_count: int


class BundleList(BaseModel):
    items: list[BundleSummary]


class BundleItem(BaseModel):
    code: str
    name: str
    department_type: str
    handling_tier: Tier
    min_loa: int


class BundleRead(BaseModel):
    code: str
    name: str
    subject: Subject
    specified: bool
    items: list[BundleItem] = Field(description="In the order the bundle handles them")
    form_schema: dict[str, Any] | None = Field(
        description="One JSON Schema for all the items: a field several items ask for appears "
        "once; null while the bundle is only named"
    )
    field_sources: dict[str, list[str]] = Field(
        description="Form field → the codes of the items it feeds"
    )
    min_loa: int | None = Field(description="The highest min_loa of its items")
    illustrative: bool = Field(
        description="The bundle's make-up was assembled from its public description, not "
        "copied from an official item list"
    )
