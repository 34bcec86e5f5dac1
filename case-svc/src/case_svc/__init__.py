"""case-svc: applications (办件) routed to the responsible department, their workflow and
deadlines."""
