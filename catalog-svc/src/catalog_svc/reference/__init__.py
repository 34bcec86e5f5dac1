"""The catalog's reference data: read from the files under ``data/``, checked, and loaded into
the database by the seed."""
