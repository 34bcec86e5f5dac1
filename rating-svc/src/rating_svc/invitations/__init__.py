"""Invitations to rate: a completed case (case-svc's ``case.completed``), or a rectified bad
review to rate again; the app lists them as "to rate"."""
