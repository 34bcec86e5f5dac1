from data_exchange_svc.models import Base
from data_exchange_svc.settings import ExchangeSettings
from servicekit.migrations import run_migrations

run_migrations(Base.metadata, ExchangeSettings().database_url)
