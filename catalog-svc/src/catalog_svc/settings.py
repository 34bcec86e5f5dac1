"""Settings of catalog-svc (env prefix ``CATALOG_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

#: The reference data shipped with the service: region files, department templates, items,
#: the search vocabulary.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    service_name: str = "catalog"
    data_dir: Path = DEFAULT_DATA_DIR
    search_default_limit: int = Field(default=20, ge=1, le=100)
    search_max_limit: int = Field(default=50, ge=1, le=200)
    children_max_limit: int = Field(default=500, ge=1, le=5000)
    #: Pages of the administration API's lists (versions, audit trail).
    admin_default_limit: int = Field(default=20, ge=1, le=100)
    admin_max_limit: int = Field(default=100, ge=1, le=500)
    #: How long clients and caches may keep a read answer before revalidating it (ETag).
    cache_max_age_seconds: int = Field(default=300, ge=0, le=86400)
    #: How often the in-memory snapshot (regions, departments, search index) compares the
    #: stored reference-data fingerprint with its own and reloads after a new seed; 0: never
    #: (then a restart picks a new seed up).
    snapshot_check_seconds: float = Field(default=30.0, ge=0, le=3600)
    #: How often each process reads the items' live quality that changed (counted from other
    #: services' events by whichever process received them); 0: read once, at start-up.
    quality_refresh_seconds: float = Field(default=5.0, ge=0, le=3600)
    #: The only clients whose events ``POST /catalog/v1/events`` takes: case-svc's
    #: (``case.completed``) and rating-svc's (``rating.created``, ``appeal.decided``).
    case_client_id: str = Field(default="case-svc", min_length=1)
    rating_client_id: str = Field(default="rating-svc", min_length=1)
