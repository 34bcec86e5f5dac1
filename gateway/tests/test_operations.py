"""The gateway's own routes: liveness, readiness of every upstream by name, metrics, and one
OpenAPI document for the whole platform."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx


async def test_healthz_says_the_process_is_up(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_services_not_ready_until_every_one_is(
    gateway: httpx.AsyncClient, services: dict[str, Any]
) -> None:
    services["catalog"].ready = False
    waiting = await gateway.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json()["not_ready"] == ["catalog"]
    assert waiting.json()["services"]["catalog"] == "not_ready"
    assert waiting.json()["services"]["identity"] == "ready"

    services["catalog"].ready = True
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "services": dict.fromkeys(services, "ready"),
        "not_ready": [],
    }


async def test_readyz_counts_an_unreachable_service_as_not_ready(
    start_gateway: Any, dead_url: str
) -> None:
    gateway = await start_gateway(upstreams={"exchange": dead_url})
    response = await gateway.get("/readyz")
    assert response.status_code == 503
    assert response.json()["services"]["exchange"] == "unreachable"
    assert response.json()["not_ready"] == ["exchange"]
    assert dead_url.removeprefix("http://") not in response.text


async def test_the_openapi_document_merges_every_services_paths_and_components(
    gateway: httpx.AsyncClient,
) -> None:
    document = (await gateway.get("/openapi.json")).json()
    assert document["x-unavailable"] == []
    paths = document["paths"]
    assert "/catalog/v1/things/{thing_id}" in paths
    assert "/identity/v1/things/{thing_id}" in paths
    assert "/readyz" not in paths  # each service's own operations are not the platform's API
    schemas = document["components"]["schemas"]
    # Every service calls a different definition "Thing": each keeps its own, renamed.
    assert schemas["catalog.Thing"]["required"] == ["catalog_field"]
    assert schemas["identity.Thing"]["required"] == ["identity_field"]
    assert "Thing" not in schemas
    ok = paths["/catalog/v1/things/{thing_id}"]["get"]["responses"]["200"]
    assert (
        ok["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/catalog.Thing"
    )
    # Definitions every service shares alike stay under their own name.
    assert "HTTPValidationError" in schemas


async def test_the_openapi_document_marks_the_routes_that_need_a_token(
    gateway: httpx.AsyncClient,
) -> None:
    paths = (await gateway.get("/openapi.json")).json()["paths"]
    assert "security" not in paths["/catalog/v1/things/{thing_id}"]["get"]
    assert paths["/identity/v1/things/{thing_id}"]["get"]["security"] == [{"accessToken": []}]


async def test_an_unreachable_service_is_listed_instead_of_failing_the_document(
    start_gateway: Any, dead_url: str
) -> None:
    gateway = await start_gateway(upstreams={"exchange": dead_url})
    response = await gateway.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["x-unavailable"] == ["exchange"]
    assert "/catalog/v1/things/{thing_id}" in document["paths"]
    assert not any(path.startswith("/exchange/") for path in document["paths"])


async def test_the_docs_page_reads_the_merged_document(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


async def test_metrics_count_proxied_requests_by_service_not_by_path(
    gateway: httpx.AsyncClient,
) -> None:
    await gateway.get("/catalog/v1/items/330000-ID-LOSS")
    metrics = (await gateway.get("/metrics")).text
    assert 'route="/catalog/v1/*"' in metrics
    assert "330000-ID-LOSS" not in metrics


async def test_metrics_are_for_operators_holding_the_metrics_token(
    start_gateway: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    gateway = await start_gateway(metrics_token="scrape-secret-0123456789")
    refused = await gateway.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["code"] == "metrics_for_operators"
    wrong = await gateway.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403
    scraped = await gateway.get(
        "/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789"}
    )
    assert scraped.status_code == 200
    assert "gateway" in scraped.text or "http_" in scraped.text
