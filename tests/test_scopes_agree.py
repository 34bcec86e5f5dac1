"""The scopes an operation requires are declared twice: by the service on its route
(``servicekit.auth.requires_scopes``, which its OpenAPI document shows in
``x-required-scopes``) and by the gateway's routing table (``scope_routes``), which refuses at
the edge. The two must say the same of every operation, or a token would pass one check and
not the other."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from case_svc.main import create_app as case_app
from case_svc.settings import CaseSettings
from catalog_svc.main import create_app as catalog_app
from catalog_svc.settings import CatalogSettings
from data_exchange_svc.main import create_app as exchange_app
from data_exchange_svc.settings import ExchangeSettings
from gateway.routing import load_routing_table
from gateway.settings import ROUTES_SHIPPED
from identity_svc.main import create_app as identity_app
from identity_svc.settings import IdentitySettings
from rating_svc.main import create_app as rating_app
from rating_svc.settings import RatingSettings
from servicekit.openapi import REQUIRED_SCOPES

SERVICES: dict[str, tuple[Callable[..., Any], type[Any]]] = {
    "identity": (identity_app, IdentitySettings),
    "catalog": (catalog_app, CatalogSettings),
    "case": (case_app, CaseSettings),
    "rating": (rating_app, RatingSettings),
    "exchange": (exchange_app, ExchangeSettings),
}
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_the_routing_table_and_the_service_declare_the_same_scopes(
    name: str, tmp_path: Path
) -> None:
    create_app, settings_class = SERVICES[name]
    settings = settings_class(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'scopes.db'}",
        environment="test",
        var_dir=tmp_path,
    )
    document = create_app(settings).openapi()
    route = load_routing_table(ROUTES_SHIPPED).service(name)
    disagreements = []
    declared = 0
    for path, item in document["paths"].items():
        if not route.serves(path):
            continue
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            by_service = tuple(operation.get(REQUIRED_SCOPES, ()))
            by_gateway = route.required_scopes(method.upper(), path)
            declared += bool(by_service)
            if by_service != by_gateway:
                disagreements.append(
                    f"{method.upper()} {path}: the service {by_service}, the gateway {by_gateway}"
                )
    assert not disagreements, "\n".join(disagreements)
    # Every scope route of the table names an operation the service has.
    assert declared == len(route.scope_routes)
