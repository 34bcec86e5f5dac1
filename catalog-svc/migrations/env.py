from catalog_svc.models import Base
from catalog_svc.settings import CatalogSettings
from servicekit.migrations import run_migrations

run_migrations(Base.metadata, CatalogSettings().database_url)
