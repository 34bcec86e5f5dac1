"""Typed clients for the services case-svc asks, through the gateway."""
