"""Sharing grants: which consumer may read which fields of a resource, for which purposes.

Deny by default. Applying for, approving and revoking grants over the API comes later; the
table already carries what that workflow needs (expiry, revocation).
"""
