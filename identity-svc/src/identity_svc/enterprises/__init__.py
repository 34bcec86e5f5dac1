"""Enterprises (legal persons) and the citizens who act for them."""
