from pathlib import Path

import pytest

from catalog_svc.main import create_app
from catalog_svc.models import Base
from catalog_svc.seed import seed
from catalog_svc.settings import CatalogSettings
from servicekit.testing import ServiceUnderTest


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="catalog",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=CatalogSettings,
        create_app=create_app,
        # Everything catalog-svc stores is reference data: seeded once per database, kept.
        reference_tables=frozenset(Base.metadata.tables),
        seed=seed,
    )
