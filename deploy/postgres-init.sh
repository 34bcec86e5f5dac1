#!/bin/sh
# PostgreSQL's first start (the image runs /docker-entrypoint-initdb.d once, on an empty data
# volume): a database per service, each owned by a role of its own that alone may connect to
# it, so that a service holds its own database's password and neither another's nor the
# superuser's, and no service reads another's tables. Each role's password comes from the
# variable named beside it, which docker-compose.yml gives this container from
# deploy/secrets.env; psql reads it from the environment (\getenv), never from a command line.
set -e  # not -u: the image sources a script it cannot execute, into its own shell
while read -r database password_variable; do
  if [ -z "$(printenv "$password_variable")" ]; then
    echo "postgres-init: $password_variable is not set" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=database="$database" --set=password_variable="$password_variable" <<'SQL'
\getenv password :password_variable
CREATE ROLE :"database" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"database";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
done <<'DATABASES'
identity ONEVISIT_IDENTITY_DATABASE_PASSWORD
catalog ONEVISIT_CATALOG_DATABASE_PASSWORD
case ONEVISIT_CASE_DATABASE_PASSWORD
case_wenzhou ONEVISIT_CASE_WENZHOU_DATABASE_PASSWORD
rating ONEVISIT_RATING_DATABASE_PASSWORD
exchange ONEVISIT_EXCHANGE_DATABASE_PASSWORD
DATABASES
