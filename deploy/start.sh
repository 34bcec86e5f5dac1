# A container's start; deploy/Dockerfile sets SERVICE (its directory), PACKAGE, PORT and SEED.
# The gateway runs its own server. A service migrates its database when it has one (its
# alembic.ini: the page server has none, nor anything to seed), loads its reference data when it
# has some (SEED=true), then serves with uvicorn (WEB_CONCURRENCY processes, default 1).
set -eu
if [ "$PACKAGE" = gateway ]; then
  exec python -m gateway --host 0.0.0.0 --port "$PORT"
fi
if [ -f "$SERVICE/alembic.ini" ]; then
  alembic -c "$SERVICE/alembic.ini" upgrade head
fi
if [ "$SEED" = true ]; then
  python -m "$PACKAGE.seed"
fi
# --no-proxy-headers: a service believes the client's address from the gateway's signed header
# alone (servicekit.forwarding), never X-Forwarded-For, which uvicorn would take from loopback.
exec uvicorn "$PACKAGE.main:create_app" --factory --host 0.0.0.0 --port "$PORT" --no-access-log \
  --no-proxy-headers --no-server-header
