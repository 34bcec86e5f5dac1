"""Typed clients for the services identity-svc asks, through the gateway."""
