"""catalog-svc: the region tree, departments, service items (事项) and their search."""
