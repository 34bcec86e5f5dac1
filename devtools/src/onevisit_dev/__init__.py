"""Developer tooling: run the whole platform on one machine (``python -m onevisit_dev``)."""
