"""Public statistics of ratings, kept by incremental roll-ups."""
