"""Departments: who handles what, in which region."""
