from rating_svc.models import Base
from rating_svc.settings import RatingSettings
from servicekit.migrations import run_migrations

run_migrations(Base.metadata, RatingSettings().database_url)
