"""Rating a served case."""
