"""Finding a service: search the catalogue, and an item's page (what it asks, how long it
takes, what it costs, how many visits, who handles it for her region and how well they serve
it, counted live from ratings and completed cases). The catalogue is public: these pages need
no sign-in, but a signed-in citizen is shown her own handling department."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.citizen.common import ItemCode, her_region
from onevisit_web.citizen.wording import VISITS
from onevisit_web.pages import SignInRequired, gateway_client, render, signed_in_citizen
from onevisit_web.session import token_claims

router = APIRouter(prefix="/app", include_in_schema=False)


def percent(rate: float | None) -> str:
    return "暂无" if rate is None else f"{rate * 100:.1f}%"


def quality_facts(quality: dict[str, Any]) -> list[tuple[str, str]]:
    """The live quality figures as label and value, in the order she reads them."""
    median = quality.get("median_working_days")
    return [
        ("评价数", str(quality.get("ratings", 0))),
        ("满意率", percent(quality.get("satisfaction_rate"))),
        ("差评率", percent(quality.get("bad_review_rate"))),
        ("已办结", f"{quality.get('completed_cases', 0)} 件"),
        ("实际用时（中位数）", "暂无" if median is None else f"{median:g} 个工作日"),
    ]


def promised_days(item: dict[str, Any]) -> str:
    days = item.get("promised_working_days")
    if days is None:
        return "以部门告知为准"
    return "即时办结" if days == 0 else f"{days} 个工作日"


def fee_text(fee: dict[str, Any]) -> str:
    if fee.get("free"):
        return "免费"
    return f"{fee.get('amount_cny') or ''} 元" + (f"（{fee['basis']}）" if fee.get("basis") else "")


@router.get("/search")
async def search(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    items: list[dict[str, Any]] = []
    if q.strip():
        answer = await call(
            gateway_client(request), "GET", "/catalog/v1/items", params={"q": q.strip()}
        )
        items = answer.body["items"]
    return render(request, "citizen/search.html", {"q": q, "items": items})


@router.get("/items/{item_code}")
async def item_page(request: Request, item_code: ItemCode) -> Response:
    http = gateway_client(request)
    item = (await call(http, "GET", f"/catalog/v1/items/{item_code}")).body
    region = await _her_region(request)
    handler: dict[str, Any] | None = None
    handler_problem: str | None = None
    if region is not None:
        try:
            handler = (
                await call(
                    http,
                    "GET",
                    f"/catalog/v1/items/{item_code}/handler",
                    params={"region": region},
                )
            ).body
        except ApiProblem as exc:
            handler_problem = exc.code
    context = {
        "item": item,
        "visits": VISITS.get(str(item["visits"]), str(item["visits"])),
        "promised": promised_days(item),
        "fee": fee_text(item["fee"]),
        "item_quality": quality_facts(item["quality"]),
        "handler": handler,
        "handler_quality": quality_facts(handler["quality"]) if handler else [],
        "handler_problem": handler_problem,
        "knows_region": region is not None,
    }
    return render(request, "citizen/item.html", context)


async def _her_region(request: Request) -> str | None:
    """Her region when she is signed in: her token's claim, else her account's record."""
    try:
        citizen = await signed_in_citizen(request)
    except SignInRequired:
        # Not signed in: the page shows the item without her handling department.
        return None
    region = her_region(token_claims(citizen.access_token))
    if region is not None:
        return region
    try:
        me = await call(
            gateway_client(request), "GET", "/identity/v1/me", token=citizen.access_token
        )
    except ApiProblem:
        return None
    real_name = me.body.get("real_name") or {}
    found = real_name.get("region")
    return found if isinstance(found, str) else None
