from case_svc.models import Base
from case_svc.settings import CaseSettings
from servicekit.migrations import run_migrations

run_migrations(Base.metadata, CaseSettings().database_url)
