"""rating-svc: citizens rate the service they received; a bad review opens a rectification."""
