"""Sharing grants: which consumer may read which fields of a resource, for which purposes.

Deny by default. A consumer department applies with purposes, fields and a legal basis; staff of
the providing department approve (with an expiry) or refuse; a grant can be revoked by its
provider or given up by its consumer.
"""
