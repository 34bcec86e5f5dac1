"""Raising an account's level of assurance: real name against the population registry (level
2), then face identification against the registry's template (level 3, for a window)."""
