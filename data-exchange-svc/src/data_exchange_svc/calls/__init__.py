"""Data calls and matches: a consumer reads, or verifies, a subject's fields in a resource."""
