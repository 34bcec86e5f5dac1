"""The hosted population registry: a resource of the public-security department."""
