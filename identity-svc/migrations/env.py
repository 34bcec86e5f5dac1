from identity_svc.models import Base
from identity_svc.settings import IdentitySettings
from servicekit.migrations import run_migrations

run_migrations(Base.metadata, IdentitySettings().database_url)
