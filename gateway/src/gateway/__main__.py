"""``python -m gateway``: the gateway's server (see ``gateway.server``)."""

from gateway.server import main

main()
