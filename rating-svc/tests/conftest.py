from pathlib import Path

import pytest

from rating_svc.main import create_app
from rating_svc.models import Base
from rating_svc.settings import RatingSettings
from servicekit.testing import ServiceUnderTest


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="rating",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=RatingSettings,
        create_app=create_app,
    )
