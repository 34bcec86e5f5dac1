"""Service items (事项): reading one, finding who handles it for a region, searching them."""
