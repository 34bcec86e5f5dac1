"""Typed clients for the services rating-svc asks, through the gateway."""
