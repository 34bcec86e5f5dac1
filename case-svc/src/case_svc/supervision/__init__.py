"""Supervision (督查): how promptly departments handle their cases, by department, item and
region, for supervisors of a region and the platform's administrators; figures only, no
personal data."""
